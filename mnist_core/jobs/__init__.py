"""Training as queued jobs: Huey carries them, worker processes run them, anyone reads them.

One role per module: `records` (what a job is and its kind, as plain data), `store`
(the records in SQLite or Redis, as `state.open_backend` decides), `queue` (the client
the pages use), `run` (a job's process, by its kind) and `worker` (the consumer and the
supervisor of jobs' processes). Each imports only those before it, in that order. None of them
imports TensorFlow or Keras, except `run` once it trains.
"""
