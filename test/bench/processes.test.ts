import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { test } from 'node:test'
import { ioCalls } from '../../bench/processes.ts'

test('ioCalls counts a process\'s read and write system calls', (t) => {
  const before = ioCalls(process.pid)
  if (!before) {
    t.skip('no /proc/<pid>/io here (Linux only)')
    return
  }
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'io-calls-')), 'f')
  const fd = fs.openSync(file, 'w+')
  try {
    for (let i = 0; i < 50; i++) fs.writeSync(fd, 'x', i)
    const byte = Buffer.alloc(1)
    for (let i = 0; i < 30; i++) fs.readSync(fd, byte, 0, 1, i)
  } finally {
    fs.closeSync(fd)
    fs.rmSync(path.dirname(file), { recursive: true, force: true })
  }
  const after = ioCalls(process.pid)!
  assert.ok(after.writes - before.writes >= 50, `writes grew by ${after.writes - before.writes}`)
  assert.ok(after.reads - before.reads >= 30, `reads grew by ${after.reads - before.reads}`)
  assert.equal(ioCalls(2 ** 30), undefined, 'no such process')
})
