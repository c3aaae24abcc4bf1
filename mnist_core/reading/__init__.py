"""From what a visitor gives to what the model says: a drawing or photo put into MNIST's
form (`preprocess`, `photos`), an upload decoded safely (`images`), a written number cut
into digits (`segment`), the reading itself (`inference`), a reading with the visitor's
kept drawings in mind (`personal`), why it read it so (`why`: where it looked, what its
layers saw), and accuracy over a set of digits (`evaluate`)."""
