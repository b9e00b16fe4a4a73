// @ts-check
// The background checkpointer's thread (see checkpointer.ts). Plain JavaScript: a worker thread
// does not inherit the tsx loader the tests run under, so this file runs as is, both from src/
// and, copied by tsc (allowJs), from dist/.
import { workerData } from 'node:worker_threads'
import SQLite from 'better-sqlite3'

/** @type {import('./checkpointer.ts').CheckpointWorkerData} */
const { file, signal: buffer, slots, pauseMs } = workerData
const signal = new Int32Array(buffer)
const db = new SQLite(file, { fileMustExist: true })
// The checkpoint syncs the WAL before copying it and the database after, as the server's own
// connection would (synchronous = NORMAL in WAL mode).
db.pragma('synchronous = NORMAL')
const checkpoint = db.prepare('pragma wal_checkpoint(PASSIVE)')

const stopping = () => Atomics.load(signal, slots.stop) !== 0
let seen = 0
try {
  for (;;) {
    // Sleeps until the server's connection writes: it blocks this thread only, and nothing wakes
    // it while nothing is written.
    while (Atomics.load(signal, slots.writes) === seen && !stopping()) Atomics.wait(signal, slots.writes, seen)
    if (stopping()) break
    // Lets the writes of the moment gather (and commit) first.
    Atomics.wait(signal, slots.stop, 0, pauseMs)
    if (stopping()) break
    seen = Atomics.load(signal, slots.writes)
    // PASSIVE never waits for readers or writers: it copies what no reader still needs and leaves
    // the rest for the next round, as it does when another process is checkpointing.
    try {
      checkpoint.run()
      Atomics.add(signal, slots.checkpoints, 1)
    } catch {
      // The server's own connection still checkpoints once the WAL passes its limit.
    }
  }
} finally {
  db.close()
}
