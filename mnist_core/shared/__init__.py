"""State every replica and worker shares: where it lives, decided once (`state`: SQLite in
the state folder or Redis), how its SQLite files are opened (`sqlite`: a connection per
thread, atomic transactions, damaged files set aside), the owner book on it (`owners`),
and the drawings visitors keep (`drawings`, stored by `drawing_records`)."""
