"""State every replica and worker shares: where it lives, decided once (`state`: SQLite in
the state folder or Redis), and the owner book on it (`owners`)."""
