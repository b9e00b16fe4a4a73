import { Worker } from 'node:worker_threads'

/**
 * Moves SQLite's WAL checkpoints off the server's thread.
 *
 * By default SQLite checkpoints inside the COMMIT that takes the WAL past 1,000 pages: that one
 * request copies every page written since the last checkpoint into the database file and waits
 * for two fsyncs. On the large benchmark catalogue (1,000,000 versions) a checkpoint took 35 ms,
 * 13 ms of it CPU and the rest waiting on the disk, about 120 µs per write, all on the event loop.
 * Here a worker thread with a connection of its own does it: the server's connection tells it
 * that it wrote (an atomic counter in shared memory, no message), the worker waits a moment for
 * more writes and runs a PASSIVE checkpoint, which never blocks readers or writers. The server's
 * connection keeps a higher automatic checkpoint of its own (see FALLBACK_AUTOCHECKPOINT_PAGES).
 */

/** Slots of the shared Int32Array. */
export const SIGNAL = { writes: 0, stop: 1, checkpoints: 2 } as const
/**
 * How long the worker lets writes gather before a checkpoint. A checkpoint copies each page once
 * however often it was written since the previous one, so under a steady stream of writes a
 * longer pause copies fewer pages per write (20 ms copied much the same pages over and over;
 * docs/performance.md, round 15).
 */
export const CHECKPOINT_PAUSE_MS = 250
/**
 * The server connection's own automatic checkpoint, in pages (SQLite's default is 1,000). SQLite
 * starts the WAL over only when a write finds it wholly checkpointed, which a PASSIVE checkpoint
 * running beside a steady stream of writes never leaves it: there, this checkpoint, in the COMMIT
 * that takes the WAL past it, copies what the worker has not yet and lets the WAL restart. So it
 * keeps the WAL file near 64 MiB (past it by what is written while a checkpoint of the worker's holds
 * SQLite's checkpoint lock, when the COMMIT's is skipped), and a larger one restarts it less often:
 * with 4,000 pages the longer pause gained little (round 15). It also does all the checkpointing if
 * the worker is gone.
 */
export const FALLBACK_AUTOCHECKPOINT_PAGES = 16_000

export interface CheckpointWorkerData {
  file: string
  signal: SharedArrayBuffer
  slots: typeof SIGNAL
  pauseMs: number
}

export class Checkpointer {
  readonly #signal: Int32Array
  readonly #worker: Worker
  readonly #exited: Promise<void>

  /** `onFailure` runs if the worker cannot run (the caller restores SQLite's own checkpoints). */
  constructor(file: string, onFailure: () => void) {
    const buffer = new SharedArrayBuffer(Object.keys(SIGNAL).length * Int32Array.BYTES_PER_ELEMENT)
    this.#signal = new Int32Array(buffer)
    const data: CheckpointWorkerData = { file, signal: buffer, slots: SIGNAL, pauseMs: CHECKPOINT_PAUSE_MS }
    this.#worker = new Worker(new URL('./checkpoint-worker.mjs', import.meta.url), {
      workerData: data,
      resourceLimits: { maxOldGenerationSizeMb: 8, maxYoungGenerationSizeMb: 2 },
    })
    this.#worker.unref()
    this.#exited = new Promise((resolve) => {
      this.#worker.once('error', onFailure)
      this.#worker.once('exit', () => resolve())
    })
  }

  /** The server's connection is about to write. Cheap: one atomic add, a wake-up only if the worker sleeps. */
  wrote(): void {
    Atomics.add(this.#signal, SIGNAL.writes, 1)
    Atomics.notify(this.#signal, SIGNAL.writes, 1)
  }

  /** Checkpoints the worker has run (tests). */
  get checkpoints(): number {
    return Atomics.load(this.#signal, SIGNAL.checkpoints)
  }

  /** Stops the worker after its current checkpoint and closes its connection. */
  async stop(): Promise<void> {
    // Unreferenced so that it never keeps a process alive; referenced again until it has closed.
    this.#worker.ref()
    Atomics.store(this.#signal, SIGNAL.stop, 1)
    Atomics.notify(this.#signal, SIGNAL.writes)
    Atomics.notify(this.#signal, SIGNAL.stop)
    await this.#exited
  }
}
