#!/usr/bin/env node
// Contract test of the mini-program's API client (utils/api.js) against the real backend.
//
// `npm run test:contract` (plain Node 20, no extra packages). It starts everything itself:
//   - a fresh PostgreSQL database on DATABASE_URL's server (default
//     postgresql://postgres@127.0.0.1:5432/postgres), dropped at the end;
//   - Redis database 11 of REDIS_URL (default redis://127.0.0.1:6379), flushed before and after;
//   - the WeChat sandbox (`python -m backend.wechat_sandbox`) and the app (gunicorn) on free
//     ports, after `flask --app backend db upgrade` and `seed-demo`.
// Python: $LINSHAN_VENV/bin/python, else the checkout's .venv.
// It installs a minimal `globalThis.wx` (wx.request and wx.uploadFile over fetch, wx.login
// giving sandbox codes `NAME.<nonce>`, storage in a Map per actor), requires ../utils/api.js
// and walks: a resident logs in, browses needs, opens one and its ledger, donates (paid
// through POST /dev/sandbox-pay), sees progress move; then a secretary submits an expense
// with an uploaded PNG, a committee member approves it, a foundation admin disburses it, and
// it appears on the need's public ledger; the back office starts from GET /me/funds; the
// secretary opens a charity space and finds it in the fund's list (GET /spaces?fund_id=), the
// foundation admin edits it keeping its photo and needs, and its poster (PNG, PDF) and
// mini-program code download. Issue 13: the donor downloads the donation certificate
// (api.download → a PNG) and reads GET /me/subscriptions; the foundation admin lists the
// need's donations, refunds part of this one (Idempotency-Key) and the donation reaches
// partially_refunded, its refund listed as succeeded. Each step is printed; any failure
// exits non-zero.
'use strict'

const childProcess = require('node:child_process')
const crypto = require('node:crypto')
const fs = require('node:fs')
const net = require('node:net')
const os = require('node:os')
const path = require('node:path')
const zlib = require('node:zlib')

const MINIPROGRAM = path.resolve(__dirname, '..')
const ROOT = path.resolve(MINIPROGRAM, '..')
const VENV = process.env.LINSHAN_VENV || path.join(ROOT, '.venv')
const PYTHON = path.join(VENV, 'bin', 'python')
const REDIS_DB = 11

const started = Date.now()
const children = []
let tmpDir = null
let databaseName = null
let serverDatabaseUrl = null
let redisUrl = null
let stepCount = 0
let cleaning = null

// ---------------------------------------------------------------- output

function elapsed() {
  return ((Date.now() - started) / 1000).toFixed(1).padStart(5) + 's'
}

function say(message) {
  console.log(`[${elapsed()}] ${message}`)
}

let currentNote = null

// What a step that returns a value says about it.
function note(text) {
  currentNote = text
}

async function step(title, fn) {
  stepCount += 1
  currentNote = null
  const label = `step ${String(stepCount).padStart(2)}: ${title}`
  try {
    const result = await fn()
    const said = typeof result === 'string' ? result : currentNote
    say(`ok    ${label}${said ? ' — ' + said : ''}`)
    return result
  } catch (err) {
    say(`FAIL  ${label}`)
    throw err
  }
}

function check(condition, message, detail) {
  if (!condition) {
    const extra = detail === undefined ? '' : '\n  got: ' + JSON.stringify(detail, null, 1).slice(0, 2000)
    throw new Error(message + extra)
  }
}

function yuan(fen) {
  return (fen / 100).toFixed(2) + ' 元'
}

// ---------------------------------------------------------------- processes

function python(args, { env, quiet = true } = {}) {
  const result = childProcess.spawnSync(PYTHON, args, {
    cwd: ROOT,
    env: env || process.env,
    encoding: 'utf8',
    timeout: 300000
  })
  if (result.error) throw new Error(`${PYTHON} ${args.join(' ')}: ${result.error.message}`)
  if (result.status !== 0) {
    throw new Error(`${args.join(' ')} exited with ${result.status}\n${result.stdout}\n${result.stderr}`)
  }
  if (!quiet && result.stdout.trim()) console.log(result.stdout.trim())
  return result.stdout
}

function flask(args, env) {
  return python(['-m', 'flask', '--app', 'backend', ...args], { env })
}

function spawnService(name, args, env) {
  const logPath = path.join(tmpDir, `${name}.log`)
  const log = fs.openSync(logPath, 'a')
  const child = childProcess.spawn(PYTHON, args, {
    cwd: ROOT,
    env,
    stdio: ['ignore', log, log],
    detached: true // its own process group: gunicorn's workers stop with it
  })
  fs.closeSync(log)
  const entry = { name, child, logPath, exited: false }
  child.on('exit', (code, signal) => {
    entry.exited = true
    entry.code = code
    entry.signal = signal
  })
  children.push(entry)
  return entry
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.unref()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

async function waitFor(url, entry, seconds, ok = (status) => status < 500) {
  const deadline = Date.now() + seconds * 1000
  let last = 'no answer'
  while (Date.now() < deadline) {
    if (entry.exited) throw new Error(`${entry.name} exited (${entry.code ?? entry.signal}) before answering ${url}`)
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(2000) })
      last = `${response.status} ${(await response.text()).slice(0, 300)}`
      if (ok(response.status)) return
    } catch (err) {
      last = String(err && err.message)
    }
    await sleep(250)
  }
  throw new Error(`${entry.name} did not answer at ${url} within ${seconds}s (last: ${last})`)
}

function stopChild(entry) {
  return new Promise((resolve) => {
    if (entry.exited) return resolve()
    const timer = setTimeout(() => {
      try { process.kill(-entry.child.pid, 'SIGKILL') } catch (e) { /* gone */ }
    }, 10000)
    entry.child.once('exit', () => { clearTimeout(timer); resolve() })
    try {
      process.kill(-entry.child.pid, 'SIGTERM')
    } catch (e) {
      clearTimeout(timer)
      resolve()
    }
  })
}

function tailLog(entry, lines = 40) {
  try {
    const text = fs.readFileSync(entry.logPath, 'utf8').trimEnd().split('\n')
    return text.slice(-lines).join('\n')
  } catch (e) {
    return '(no log)'
  }
}

// ---------------------------------------------------------------- database and Redis

// libpq URLs by hand: an embedded server's URL has no host (`postgres@/db?host=/socket`),
// which WHATWG URL parsing refuses.
function withDatabase(url, name) {
  const q = url.indexOf('?')
  const head = q < 0 ? url : url.slice(0, q)
  const query = q < 0 ? '' : url.slice(q)
  const rest = head.slice(head.indexOf('://') + 3)
  const slash = rest.indexOf('/')
  const authority = slash < 0 ? rest : rest.slice(0, slash)
  return `postgresql://${authority}/${name}${query}`
}

function withRedisDb(url, db) {
  if (url.startsWith('unix:')) {
    const q = url.indexOf('?')
    return `${q < 0 ? url : url.slice(0, q)}?db=${db}`
  }
  const parsed = new URL(url)
  parsed.pathname = '/' + db
  return parsed.toString()
}

const PY_CREATE_DB = `
import sys, psycopg
with psycopg.connect(sys.argv[1], autocommit=True) as conn:
    conn.execute(f'CREATE DATABASE "{sys.argv[2]}"')
`
const PY_DROP_DB = `
import sys, psycopg
with psycopg.connect(sys.argv[1], autocommit=True) as conn:
    conn.execute(f'DROP DATABASE IF EXISTS "{sys.argv[2]}" WITH (FORCE)')
`
const PY_FLUSH_REDIS = `
import sys, redis
client = redis.Redis.from_url(sys.argv[1])
client.flushdb()
client.close()
`

// ---------------------------------------------------------------- cleanup

async function cleanup() {
  if (cleaning) return cleaning
  cleaning = (async () => {
    for (const entry of children.slice().reverse()) await stopChild(entry)
    if (databaseName) {
      try {
        python(['-c', PY_DROP_DB, withDatabase(serverDatabaseUrl, 'postgres'), databaseName])
        say(`dropped database ${databaseName}`)
      } catch (err) {
        say(`could not drop database ${databaseName}: ${err.message}`)
      }
    }
    if (redisUrl) {
      try { python(['-c', PY_FLUSH_REDIS, redisUrl]) } catch (err) { say(`could not flush Redis: ${err.message}`) }
    }
    if (tmpDir && !process.env.CONTRACT_KEEP_LOGS) fs.rmSync(tmpDir, { recursive: true, force: true })
  })()
  return cleaning
}

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    say(`${signal}: stopping`)
    cleanup().finally(() => process.exit(130))
  })
}

// ---------------------------------------------------------------- the wx shim

// Each actor has its own storage (token, user) and sandbox name; `as(actor)` switches.
const shim = { actor: null, storages: new Map(), names: new Map() }

function storage() {
  if (!shim.storages.has(shim.actor)) shim.storages.set(shim.actor, new Map())
  return shim.storages.get(shim.actor)
}

function finish(options, ok, result) {
  setImmediate(() => {
    if (ok) options.success && options.success(result)
    else options.fail && options.fail(result)
    options.complete && options.complete(result)
  })
}

function headerObject(headers) {
  const out = {}
  headers.forEach((value, key) => { out[key] = value })
  return out
}

async function answerOf(response, dataType) {
  const text = await response.text()
  let data = text
  const json = (response.headers.get('content-type') || '').includes('json')
  if (dataType !== 'text' && json) {
    try { data = JSON.parse(text) } catch (e) { data = text }
  }
  return { statusCode: response.status, data, header: headerObject(response.headers), errMsg: 'request:ok' }
}

const wx = {
  request(options) {
    const method = (options.method || 'GET').toUpperCase()
    const header = Object.assign({}, options.header)
    let url = options.url
    let body
    if (options.data !== undefined && options.data !== null) {
      if (method === 'GET') {
        const query = new URLSearchParams(options.data).toString()
        if (query) url += (url.includes('?') ? '&' : '?') + query
      } else if (typeof options.data === 'string') {
        body = options.data
      } else {
        body = JSON.stringify(options.data)
        if (!Object.keys(header).some((k) => k.toLowerCase() === 'content-type')) {
          header['Content-Type'] = 'application/json'
        }
      }
    }
    fetch(url, { method, headers: header, body, signal: AbortSignal.timeout(options.timeout || 60000) })
      .then((response) => answerOf(response, options.dataType))
      .then((res) => finish(options, true, res))
      .catch((err) => finish(options, false, { errMsg: 'request:fail ' + (err && err.message) }))
    return { abort() {} }
  },
  uploadFile(options) {
    const header = Object.assign({}, options.header)
    for (const key of Object.keys(header)) {
      if (key.toLowerCase() === 'content-type') delete header[key]
    }
    Promise.resolve()
      .then(() => {
        const form = new FormData()
        for (const [key, value] of Object.entries(options.formData || {})) form.append(key, String(value))
        const bytes = fs.readFileSync(options.filePath)
        const type = options.filePath.endsWith('.png') ? 'image/png' : 'application/octet-stream'
        form.append(options.name || 'file', new Blob([bytes], { type }), path.basename(options.filePath))
        return fetch(options.url, {
          method: 'POST', headers: header, body: form, signal: AbortSignal.timeout(options.timeout || 60000)
        })
      })
      // wx.uploadFile answers the body as a string, whatever its type
      .then((response) => answerOf(response, 'text'))
      .then((res) => finish(options, true, res))
      .catch((err) => finish(options, false, { errMsg: 'uploadFile:fail ' + (err && err.message) }))
    return { abort() {}, onProgressUpdate() {} }
  },
  // wx.downloadFile over fetch: the body goes to a temp file, whatever the status
  downloadFile(options) {
    const header = Object.assign({}, options.header)
    fetch(options.url, { headers: header, signal: AbortSignal.timeout(options.timeout || 60000) })
      .then(async (response) => {
        const bytes = Buffer.from(await response.arrayBuffer())
        const tempFilePath = path.join(tmpDir, `download-${crypto.randomBytes(6).toString('hex')}`)
        fs.writeFileSync(tempFilePath, bytes)
        return { statusCode: response.status, tempFilePath, errMsg: 'downloadFile:ok' }
      })
      .then((res) => finish(options, true, res))
      .catch((err) => finish(options, false, { errMsg: 'downloadFile:fail ' + (err && err.message) }))
    return { abort() {}, onProgressUpdate() {} }
  },
  getFileSystemManager: () => ({
    readFileSync: (filePath, encoding) => fs.readFileSync(filePath, encoding)
  }),
  login(options) {
    const name = shim.names.get(shim.actor) || shim.actor
    finish(options, true, { code: `${name}.${crypto.randomBytes(6).toString('hex')}`, errMsg: 'login:ok' })
  },
  getStorageSync: (key) => (storage().has(key) ? storage().get(key) : ''),
  setStorageSync: (key, value) => { storage().set(key, value) },
  removeStorageSync: (key) => { storage().delete(key) },
  clearStorageSync: () => { storage().clear() },
  getAccountInfoSync: () => ({ miniProgram: { envVersion: 'develop', appId: 'wx0000000000sandbox' } }),
  getSystemInfoSync: () => ({ platform: 'devtools', SDKVersion: '3.0.0' }),
  showToast() {}, showLoading() {}, hideLoading() {}
}

function as(actor) {
  shim.actor = actor
}

// ---------------------------------------------------------------- a PNG, written by hand

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
  return c >>> 0
})

function crc32(buffer) {
  let c = 0xffffffff
  for (const byte of buffer) c = CRC_TABLE[(c ^ byte) & 0xff] ^ (c >>> 8)
  return (c ^ 0xffffffff) >>> 0
}

function chunk(type, data) {
  const length = Buffer.alloc(4)
  length.writeUInt32BE(data.length)
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data])
  const crc = Buffer.alloc(4)
  crc.writeUInt32BE(crc32(body))
  return Buffer.concat([length, body, crc])
}

function png(width, height) {
  const header = Buffer.alloc(13)
  header.writeUInt32BE(width, 0)
  header.writeUInt32BE(height, 4)
  header[8] = 8 // bit depth
  header[9] = 2 // RGB
  const rows = []
  for (let y = 0; y < height; y++) {
    const row = Buffer.alloc(1 + width * 3)
    for (let x = 0; x < width; x++) {
      row[1 + x * 3] = (x * 4) & 0xff
      row[2 + x * 3] = (y * 4) & 0xff
      row[3 + x * 3] = 160
    }
    rows.push(row)
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', zlib.deflateSync(Buffer.concat(rows))),
    chunk('IEND', Buffer.alloc(0))
  ])
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])

// ---------------------------------------------------------------- the walk

async function expectApiError(promise, status, api) {
  try {
    await promise
  } catch (err) {
    check(err instanceof api.ApiError, 'expected an ApiError, got ' + err)
    check(err.status === status, `expected ${status}, got ${err.status} ${err.error}`, err)
    check(/[\u4e00-\u9fff]/.test(err.message), 'the error message is not Chinese: ' + err.message)
    return err
  }
  throw new Error(`expected an error ${status}, the call succeeded`)
}

async function poll(what, fn, seconds = 20) {
  const deadline = Date.now() + seconds * 1000
  let last
  while (Date.now() < deadline) {
    last = await fn()
    if (last.done) return last.value
    await sleep(200)
  }
  throw new Error(`${what}: not reached within ${seconds}s` + (last ? ' (last: ' + JSON.stringify(last.value).slice(0, 500) + ')' : ''))
}

async function walk(env, baseUrl) {
  globalThis.wx = wx
  const api = require('../utils/api.js')
  api.configure({ baseUrl })
  const run = crypto.randomBytes(3).toString('hex')
  const names = {
    resident: `resident_${run}`,
    secretary: `secretary_${run}`,
    committee: `committee_${run}`,
    admin: `fadmin_${run}`
  }
  for (const [actor, name] of Object.entries(names)) shim.names.set(actor, name)

  // ---- the resident
  as('resident')
  const resident = await step('resident logs in (wx.login → POST /auth/wechat-login)', async () => {
    const user = await api.login()
    check(user && Number.isInteger(user.id), 'login answered no user', user)
    check(api.isLoggedIn(), 'no token stored after login')
    check(api.currentUser() && api.currentUser().id === user.id, 'currentUser() is not the logged-in user')
    const me = await api.get('/me')
    check(me.id === user.id, 'GET /me is someone else', me)
    note(`user ${user.id}`)
    return user
  })

  await step('an unknown route answers the contract\'s error shape', async () => {
    const err = await expectApiError(api.get('/no-such-thing'), 404, api)
    return `${err.status} ${err.error}`
  })

  await step('browse the region tree', async () => {
    const tree = await api.get('/regions')
    check(Array.isArray(tree) && tree.length > 0, 'no regions', tree)
    return `${tree.length} root region(s): ${tree.map((r) => r.name).join('、')}`
  })

  const need = await step('browse needs (GET /needs), fundraising first page', async () => {
    const page = await api.get('/needs', { status: 'fundraising', limit: 20 })
    check(Array.isArray(page.items) && page.items.length > 0, 'no fundraising needs', page)
    check('next_cursor' in page, 'no next_cursor in a list answer', page)
    const item = page.items.find((n) => n.goal_fen - n.raised_fen > 20000) || page.items[0]
    for (const field of ['id', 'title', 'category', 'status', 'region', 'fund', 'goal_fen', 'raised_fen', 'donation_count', 'percent']) {
      check(field in item, `need item without ${field}`, item)
    }
    if (page.next_cursor) {
      const next = await api.get('/needs', { status: 'fundraising', limit: 20, cursor: page.next_cursor })
      check(Array.isArray(next.items), 'the second page is not a list', next)
    }
    note(`${page.items.length} need(s); picked #${item.id} 「${item.title}」`)
    return item
  })

  const detail = await step('open the need (GET /needs/{id})', async () => {
    const full = await api.get(`/needs/${need.id}`)
    check(full.id === need.id && full.title === need.title, 'the need is not the one listed', full)
    check(typeof full.story === 'string', 'no story', full)
    note(`${full.fund.name}; goal ${yuan(full.goal_fen)}, raised ${yuan(full.raised_fen)}`)
    return full
  })

  const ledgerBefore = await step('open its public ledger (GET /needs/{id}/ledger)', async () => {
    const ledger = await api.get(`/needs/${need.id}/ledger`)
    check(ledger.income && Array.isArray(ledger.income.items), 'no income page', ledger)
    check(Array.isArray(ledger.expenses), 'no expenses list', ledger)
    check(Number.isInteger(ledger.balance_fen), 'no balance_fen', ledger)
    note(`${ledger.income.items.length} income item(s), ${ledger.expenses.length} expense(s), balance ${yuan(ledger.balance_fen)}`)
    return ledger
  })

  const progressBefore = await step('read its progress (GET /needs/{id}/progress)', async () => {
    const progress = await api.get(`/needs/${need.id}/progress`)
    check(progress.need_id === need.id && Number.isInteger(progress.raised_fen), 'bad progress', progress)
    note(`${yuan(progress.raised_fen)} from ${progress.donation_count} donation(s), ${progress.percent}%`)
    return progress
  })

  const amount = 5000
  const order = await step(`donate ${yuan(amount)} (POST /donations with an Idempotency-Key)`, async () => {
    const key = api.newIdempotencyKey()
    const body = { need_id: need.id, amount_fen: amount, anonymous: false, message: '邻里加油' }
    const created = await api.post('/donations', body, { idempotencyKey: key })
    check(created.status === 'pending' && created.amount_fen === amount, 'not a pending order', created)
    check(created.payment && created.payment.package && created.payment.paySign, 'no payment parameters', created)
    const replay = await api.post('/donations', body, { idempotencyKey: key })
    check(replay.id === created.id, 'the same Idempotency-Key made a second order', replay)
    note(`order ${created.out_trade_no} (#${created.id})`)
    return created
  })

  await step('someone else cannot pay it (POST /dev/sandbox-pay → 404)', async () => {
    as('secretary')
    await api.login()
    try {
      const err = await expectApiError(api.post('/dev/sandbox-pay', { out_trade_no: order.out_trade_no }), 404, api)
      return `${err.status} ${err.error}`
    } finally {
      as('resident')
    }
  })

  await step('pay it through the sandbox (POST /dev/sandbox-pay)', async () => {
    const answer = await api.post('/dev/sandbox-pay', { out_trade_no: order.out_trade_no })
    check(answer.out_trade_no === order.out_trade_no, 'another order answered', answer)
    check(['pending', 'paid'].includes(answer.status), 'unexpected status', answer)
    return `answered ${answer.status}`
  })

  await step('poll GET /donations/{id} until paid', async () => {
    const paid = await poll('donation paid', async () => {
      const donation = await api.get(`/donations/${order.id}`)
      return { done: donation.status === 'paid', value: donation }
    })
    check(paid.paid_at, 'paid without paid_at', paid)
    return `paid at ${paid.paid_at}`
  })

  await step('paying again is refused (409)', async () => {
    const err = await expectApiError(api.post('/dev/sandbox-pay', { out_trade_no: order.out_trade_no }), 409, api)
    return `${err.status} ${err.error}: ${err.message}`
  })

  await step('progress moved', async () => {
    const progress = await api.get(`/needs/${need.id}/progress`)
    check(progress.raised_fen === progressBefore.raised_fen + amount,
      `raised ${progressBefore.raised_fen} → ${progress.raised_fen}, expected +${amount}`, progress)
    check(progress.donation_count === progressBefore.donation_count + 1, 'donation_count did not move', progress)
    return `${yuan(progressBefore.raised_fen)} → ${yuan(progress.raised_fen)}, ${progress.percent}%`
  })

  await step('the donation is in the ledger and in GET /me/donations', async () => {
    const ledger = await api.get(`/needs/${need.id}/ledger`)
    check(ledger.income.items.some((i) => i.id === order.id && i.amount_fen === amount), 'not in the income', ledger.income.items.slice(0, 3))
    check(ledger.balance_fen === ledgerBefore.balance_fen + amount, 'the balance did not move', ledger.balance_fen)
    const mine = await api.get('/me/donations')
    check(mine.items.some((d) => d.id === order.id && d.status === 'paid'), 'not among my donations', mine)
    return `balance ${yuan(ledger.balance_fen)}`
  })

  await step('the donor downloads the donation certificate (api.download → GET /donations/{id}/certificate)', async () => {
    const donation = await api.get(`/donations/${order.id}`)
    check(typeof donation.certificate_no === 'string' && donation.certificate_no, 'a paid donation without certificate_no', donation)
    const mine = await api.get('/me/donations')
    const listed = mine.items.find((d) => d.id === order.id)
    check(listed && listed.certificate_no === donation.certificate_no, 'GET /me/donations has another certificate_no', listed)
    for (const field of ['refunded_fen', 'refunding_fen']) check(Number.isInteger(listed[field]), `no ${field} in GET /me/donations`, listed)
    const filePath = await api.download(`/donations/${order.id}/certificate`)
    const bytes = fs.readFileSync(filePath)
    check(bytes.subarray(0, 8).equals(PNG_SIGNATURE), 'the certificate is not a PNG', bytes.subarray(0, 16).toString('hex'))
    as('secretary')
    try {
      const err = await api.download(`/donations/${order.id}/certificate`).then(() => null, (e) => e)
      check(err instanceof api.ApiError && [403, 404].includes(err.status), 'someone else downloaded the certificate', err && { status: err.status, error: err.error })
      check(/[\u4e00-\u9fff]/.test(err.message), 'the download error message is not Chinese: ' + err.message)
    } finally {
      as('resident')
    }
    return `certificate ${donation.certificate_no}, ${bytes.length} bytes of PNG; another user gets an error`
  })

  await step('the donor reads the subscribe-message templates (GET/POST /me/subscriptions)', async () => {
    // the remaining consents: the brief's `consents: [{template_id, remaining}]`, or each
    // template's own `remaining` (utils/subscribe.js reads both)
    const remainingOf = (answer, id) => {
      const fromList = Array.isArray(answer.consents) && answer.consents.find((c) => c.template_id === id)
      if (fromList) return fromList.remaining
      const template = answer.templates.find((t) => t.template_id === id)
      return template && Number.isInteger(template.remaining) ? template.remaining : 0
    }
    const subs = await api.get('/me/subscriptions')
    check(Array.isArray(subs.templates), 'no templates list', subs)
    check(Array.isArray(subs.consents) || subs.templates.every((t) => Number.isInteger(t.remaining)), 'no consents anywhere', subs)
    for (const t of subs.templates) {
      check(['donation_paid', 'money_spent'].includes(t.kind) && t.template_id && typeof t.title === 'string', 'bad template', t)
    }
    if (!subs.templates.length) return 'no templates configured'
    const id = subs.templates[0].template_id
    const before = remainingOf(subs, id)
    const after = await api.post('/me/subscriptions', { template_ids: [id] })
    check(Array.isArray(after.templates), 'POST answered no templates list', after)
    check(remainingOf(after, id) === before + 1, 'the consent was not counted', after)
    const shape = Array.isArray(subs.consents) ? '{templates, consents}' : '{templates[].remaining}'
    return `${subs.templates.length} template(s): ${subs.templates.map((t) => t.kind).join(', ')}; consent for ${id} → ${before + 1}; shape ${shape}`
  })

  // ---- the fund's people
  const fundId = detail.fund.id
  const fund = await step(`the demo fund (GET /funds/${fundId})`, async () => {
    const f = await api.get(`/funds/${fundId}`)
    check(f.foundation && Number.isInteger(f.foundation.id), 'no foundation', f)
    check(Number.isInteger(f.committee_threshold_fen), 'no committee_threshold_fen', f)
    note(`${f.name}, foundation #${f.foundation.id}, committee threshold ${yuan(f.committee_threshold_fen)}`)
    return f
  })

  const ids = {}
  await step('secretary, committee member and foundation admin log in', async () => {
    for (const actor of ['secretary', 'committee', 'admin']) {
      as(actor)
      const user = await api.login()
      ids[actor] = user.id
    }
    as('resident')
    return `users ${ids.secretary}, ${ids.committee}, ${ids.admin}`
  })

  await step('grant their roles (flask --app backend roles grant)', async () => {
    flask(['roles', 'grant', String(ids.secretary), 'secretary', '--fund', String(fundId)], env)
    flask(['roles', 'grant', String(ids.committee), 'committee', '--fund', String(fundId)], env)
    flask(['roles', 'grant', String(ids.admin), 'foundation_admin', '--foundation', String(fund.foundation.id)], env)
    as('secretary')
    const me = await api.get('/me')
    as('resident')
    check(me.roles.some((r) => r.role === 'secretary' && r.scope_id === fundId), 'the secretary has no role', me)
    return 'secretary, committee, foundation_admin'
  })

  await step('the back office starts from GET /me/funds (the fund with each one\'s roles)', async () => {
    const roles = {}
    for (const actor of ['secretary', 'committee', 'admin']) {
      as(actor)
      const funds = await api.get('/me/funds')
      check(Array.isArray(funds), 'not a list', funds)
      const mine = funds.find((f) => f.id === fundId)
      check(mine, `${actor}: the fund is not among their funds`, funds)
      check(mine.name === fund.name && mine.region && mine.region.id === fund.region.id, `${actor}: wrong fund`, mine)
      check(mine.foundation && mine.foundation.id === fund.foundation.id, `${actor}: wrong foundation`, mine)
      if (actor !== 'admin') check(funds.length === 1, `${actor}: funds they hold no role over`, funds)
      roles[actor] = mine.roles
    }
    as('resident')
    check(JSON.stringify(roles.secretary) === '["secretary"]', 'the secretary\'s roles', roles)
    check(JSON.stringify(roles.committee) === '["committee"]', 'the committee member\'s roles', roles)
    check(JSON.stringify(roles.admin) === '["foundation_admin"]', 'the foundation admin\'s roles', roles)
    const none = await api.get('/me/funds')
    check(Array.isArray(none) && none.length === 0, 'a resident holds funds', none)
    return `secretary ${roles.secretary}, committee ${roles.committee}, admin ${roles.admin}; a resident none`
  })

  await step('a resident cannot submit an expense (403)', async () => {
    const err = await expectApiError(api.post(`/funds/${fundId}/expenses`, {
      need_id: need.id, amount_fen: 100, payee_name: '某某商店', payee_type: 'organization',
      purpose: '不应成功的支出', attachment_ids: [1]
    }, { idempotencyKey: api.newIdempotencyKey() }), 403, api)
    return `${err.status} ${err.error}`
  })

  const pngPath = path.join(tmpDir, 'receipt.png')
  fs.writeFileSync(pngPath, png(64, 48))
  as('secretary')
  const receipt = await step('the secretary uploads a PNG receipt (api.upload → POST /uploads)', async () => {
    const uploaded = await api.upload(pngPath)
    check(uploaded && Number.isInteger(uploaded.id), 'no upload id', uploaded)
    check(uploaded.content_type === 'image/png', 'not stored as a PNG', uploaded)
    note(`upload #${uploaded.id}, ${uploaded.size} bytes`)
    return uploaded
  })

  const spend = Math.min(3000, fund.committee_threshold_fen - 1)
  const expense = await step(`the secretary submits an expense of ${yuan(spend)} (POST /funds/{id}/expenses)`, async () => {
    const created = await api.post(`/funds/${fundId}/expenses`, {
      need_id: need.id,
      amount_fen: spend,
      payee_name: '幸福社区便民超市',
      payee_type: 'organization',
      purpose: `契约测试采购物资 ${run}`,
      attachment_ids: [receipt.id]
    }, { idempotencyKey: api.newIdempotencyKey() })
    check(created.status === 'submitted', 'not submitted', created)
    note(`expense #${created.id}, ${created.required_approvals} approval(s) required`)
    return created
  })

  await step('the submitter cannot approve their own expense', async () => {
    const err = await expectApiError(api.post(`/expenses/${expense.id}/approve`, { comment: '自己批准' }), 403, api)
    return `${err.status} ${err.error}`
  })

  as('committee')
  await step('the committee member sees it pending and approves it', async () => {
    const pending = await api.get('/me/pending-expenses')
    check(pending.items.some((e) => e.id === expense.id), 'not among the pending expenses', pending)
    const approved = await api.post(`/expenses/${expense.id}/approve`, { comment: '同意，凭证齐全' })
    check(approved.status === 'approved', 'not approved', approved)
    return `status ${approved.status}`
  })

  await step('it is not public before it is paid', async () => {
    as('resident')
    const ledger = await api.get(`/needs/${need.id}/ledger`)
    check(!ledger.expenses.some((e) => e.id === expense.id), 'an approved, unpaid expense is public', ledger.expenses)
    return `${ledger.expenses.length} public expense(s)`
  })

  as('admin')
  const voucherPath = path.join(tmpDir, 'voucher.png')
  fs.writeFileSync(voucherPath, png(40, 40))
  await step('the foundation admin disburses it (POST /expenses/{id}/disburse)', async () => {
    const voucher = await api.upload(voucherPath)
    const paid = await api.post(`/expenses/${expense.id}/disburse`, {
      voucher_no: `PZ-${run}`, attachment_ids: [voucher.id]
    })
    check(paid.status === 'disbursed', 'not disbursed', paid)
    return `status ${paid.status}, voucher PZ-${run}`
  })

  as('resident')
  await step('the expense appears on the need\'s public ledger with its evidence', async () => {
    const ledger = await api.get(`/needs/${need.id}/ledger`)
    const shown = ledger.expenses.find((e) => e.id === expense.id)
    check(shown, 'the disbursed expense is not on the public ledger', ledger.expenses)
    check(shown.amount_fen === spend, 'wrong amount', shown)
    check(Array.isArray(shown.evidence) && shown.evidence.length >= 1, 'no evidence', shown)
    check(ledger.balance_fen === ledgerBefore.balance_fen + amount - spend, 'the balance is not income minus spending', ledger.balance_fen)
    const url = shown.evidence[0].url
    if (url) {
      const response = await fetch(url.startsWith('http') ? url : baseUrl + url)
      check(response.ok, `the evidence is not served: ${response.status} ${url}`)
    }
    return `「${shown.purpose}」 ${yuan(shown.amount_fen)}, ${shown.evidence.length} evidence file(s); balance ${yuan(ledger.balance_fen)}`
  })

  await step('the donor sees where the money went (GET /donations/{id} allocations)', async () => {
    const donation = await api.get(`/donations/${order.id}`)
    check(Array.isArray(donation.allocations), 'no allocations', donation)
    const total = donation.allocations.reduce((sum, a) => sum + a.amount_fen, 0)
    return `${donation.allocations.length} allocation(s), ${yuan(total)} of this donation spent`
  })

  // ---- a charity space and its poster
  as('secretary')
  const spaceCode = `ct-${run}`
  const photoPath = path.join(tmpDir, 'space.png')
  fs.writeFileSync(photoPath, png(80, 60))
  let spacePhotoId = null
  await step('the secretary opens a space with a photo and a need shown (POST /spaces)', async () => {
    const photo = await api.upload(photoPath)
    spacePhotoId = photo.id
    const created = await api.post('/spaces', {
      fund_id: fundId,
      code: spaceCode,
      name: `契约测试慈善空间 ${run}`,
      region_id: fund.region.id,
      address: '幸福路 1 号党群服务中心',
      opening_hours: '周一至周五 9:00–17:00',
      description: '契约测试开设的慈善空间',
      photo_upload_id: photo.id,
      need_ids: [need.id]
    })
    check(created.code === spaceCode, 'wrong code', created)
    check(created.fund && created.fund.id === fundId, 'wrong fund', created)
    check(created.photo_url, 'no photo_url', created)
    check(created.needs.length === 1 && created.needs[0].id === need.id, 'wrong needs shown', created.needs)
    check(created.needs_chosen === true, 'needs_chosen is not true', created)
    check(created.photo_upload_id === photo.id, 'photo_upload_id is not the photo', created)
    check(created.figures && Number.isInteger(created.figures.raised_fen), 'no figures', created)
    return `space ${created.code} in ${created.region.name}`
  })

  await step('a space outside the fund\'s region is refused with a field error (422)', async () => {
    const tree = await api.get('/regions')
    // a region neither in the fund's subtree nor above it (a sibling branch)
    const nodes = []
    const above = new Set()
    const visit = (list, trail, inFund) => (list || []).forEach((n) => {
      const here = inFund || n.id === fund.region.id
      if (n.id === fund.region.id) trail.forEach((id) => above.add(id))
      nodes.push({ id: n.id, inFund: here })
      visit(n.children, trail.concat([n.id]), here)
    })
    visit(tree, [], false)
    const outside = nodes.find((n) => !n.inFund && !above.has(n.id))
    if (!outside) return 'skipped: no region outside the fund\'s'
    const err = await expectApiError(api.post('/spaces', {
      fund_id: fundId, name: '区域之外', region_id: outside.id, address: '某路 1 号', need_ids: []
    }), 422, api)
    check(err.errors && err.errors.region_id, 'no region_id field error', err)
    return `${err.status} ${err.error}: region #${outside.id}`
  })

  await step('the secretary finds it in the fund\'s list (GET /spaces?fund_id=)', async () => {
    const page = await api.get('/spaces', { fund_id: fundId, limit: 100 })
    check(page.items.some((s) => s.code === spaceCode), 'not in the fund\'s list', page)
    check(page.items.every((s) => s.fund && s.fund.id === fundId), 'another fund\'s space in the list', page.items)
    const first = await api.get('/spaces', { fund_id: fundId, limit: 1 })
    check(first.items.length === 1, 'limit=1 gave no space', first)
    return `${page.items.length} space(s) of the fund`
  })

  as('admin')
  await step('the foundation admin edits it as the edit page does (PATCH /spaces/{code}): photo and needs kept', async () => {
    // the page sends the chosen needs back as they were and leaves out an unchanged photo
    const patched = await api.patch(`/spaces/${spaceCode}`, { opening_hours: '每天 8:00–20:00', need_ids: [need.id] })
    check(patched.opening_hours === '每天 8:00–20:00', 'not changed', patched)
    check(patched.photo_upload_id === spacePhotoId && patched.photo_url, 'the photo was not kept', patched)
    check(patched.needs_chosen === true && patched.needs.length === 1 && patched.needs[0].id === need.id, 'the needs were not kept', patched)
    return `opening hours changed; photo #${patched.photo_upload_id} and need #${need.id} kept`
  })

  as('secretary')
  await step('no needs chosen: the space shows its fund\'s open needs (needs_chosen false)', async () => {
    const patched = await api.patch(`/spaces/${spaceCode}`, { need_ids: [] })
    check(patched.needs_chosen === false, 'needs_chosen is not false', patched)
    check(patched.photo_upload_id === spacePhotoId, 'the photo was lost', patched)
    const again = await api.patch(`/spaces/${spaceCode}`, { opening_hours: '每天 8:00–20:00' })
    check(again.needs_chosen === false, 'an edit without need_ids chose needs', again)
    const back = await api.patch(`/spaces/${spaceCode}`, { need_ids: [need.id] })
    check(back.needs_chosen === true && back.needs[0].id === need.id, 'the choice did not come back', back)
    return `default list of ${patched.needs.length} open need(s), then need #${need.id} chosen again`
  })

  await step('the space\'s poster PNG and mini-program code download', async () => {
    for (const [what, url] of [
      ['poster', api.buildUrl(`/spaces/${spaceCode}/poster`, { format: 'png', need_id: need.id })],
      ['code', api.buildUrl(`/spaces/${spaceCode}/qrcode.png`)]
    ]) {
      const response = await fetch(url)
      check(response.ok, `${what}: ${response.status} ${url}`)
      check(response.headers.get('content-type') === 'image/png', `${what}: not a PNG`, response.headers.get('content-type'))
      const bytes = Buffer.from(await response.arrayBuffer())
      check(bytes.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])), `${what}: bad PNG signature`)
    }
    const pdf = await fetch(api.buildUrl(`/spaces/${spaceCode}/poster`, { format: 'pdf' }))
    check(pdf.ok && pdf.headers.get('content-type') === 'application/pdf', `pdf: ${pdf.status} ${pdf.headers.get('content-type')}`)
    const head = Buffer.from(await pdf.arrayBuffer()).subarray(0, 5).toString('latin1')
    check(head === '%PDF-', 'not a PDF', head)
    return 'poster PNG, mini-program code PNG and poster PDF'
  })

  // ---- a refund
  as('admin')
  const listed = await step('the foundation admin lists the need\'s donations (GET /needs/{id}/donations)', async () => {
    const page = await api.get(`/needs/${need.id}/donations`, { limit: 100 })
    check(Array.isArray(page.items) && 'next_cursor' in page, 'not a page', page)
    const item = page.items.find((d) => d.id === order.id)
    check(item, 'the donation is not listed', page.items.slice(0, 3))
    for (const field of ['amount_fen', 'refunded_fen', 'refunding_fen', 'allocated_fen', 'refundable_fen']) {
      check(Number.isInteger(item[field]), `no ${field}`, item)
    }
    check(item.amount_fen === amount && item.refundable_fen > 0 && item.refundable_fen <= amount, 'wrong amounts', item)
    note(`${page.items.length} donation(s); #${item.id} refundable ${yuan(item.refundable_fen)}`)
    return item
  })

  const refundAmount = Math.min(1000, listed.refundable_fen)
  await step('the donor cannot refund their own donation (403 or 404)', async () => {
    as('resident')
    try {
      const err = await api.post(`/donations/${order.id}/refunds`, { amount_fen: 100, reason: '不应成功的退款' },
        { idempotencyKey: api.newIdempotencyKey() }).then(() => null, (e) => e)
      check(err instanceof api.ApiError && [403, 404].includes(err.status), 'the donor refunded their own donation', err && { status: err.status, error: err.error })
      check(/[\u4e00-\u9fff]/.test(err.message), 'the error message is not Chinese: ' + err.message)
      return `${err.status} ${err.error}`
    } finally {
      as('admin')
    }
  })

  const refund = await step(`the foundation admin refunds ${yuan(refundAmount)} of it (POST /donations/{id}/refunds with an Idempotency-Key)`, async () => {
    const tooMuch = await expectApiError(api.post(`/donations/${order.id}/refunds`,
      { amount_fen: listed.refundable_fen + 1, reason: '超过可退金额' }, { idempotencyKey: api.newIdempotencyKey() }), 409, api)
    check(tooMuch.error === 'refund_exceeds_refundable', 'not refund_exceeds_refundable', tooMuch)
    const key = api.newIdempotencyKey()
    const body = { amount_fen: refundAmount, reason: `契约测试部分退款 ${run}` }
    const created = await api.post(`/donations/${order.id}/refunds`, body, { idempotencyKey: key })
    check(Number.isInteger(created.id) && created.donation_id === order.id && created.amount_fen === refundAmount, 'not the refund asked for', created)
    check(['requested', 'processing', 'succeeded'].includes(created.status), 'unexpected status', created)
    const replay = await api.post(`/donations/${order.id}/refunds`, body, { idempotencyKey: key })
    check(replay.id === created.id, 'the same Idempotency-Key made a second refund', replay)
    note(`refund #${created.id} ${created.status}; too much: ${tooMuch.error} 「${tooMuch.message}」`)
    return created
  })

  as('resident')
  await step('poll GET /donations/{id} until partially_refunded (the sandbox settles the refund)', async () => {
    const done = await poll('donation partially refunded', async () => {
      const donation = await api.get(`/donations/${order.id}`)
      return { done: donation.status === 'partially_refunded', value: donation }
    }, 30)
    check(done.refunded_fen === refundAmount && done.refunding_fen === 0, 'wrong refunded amounts', done)
    check(typeof done.certificate_no === 'string' && done.certificate_no, 'a partly refunded donation lost its certificate', done)
    const refunds = await api.get(`/donations/${order.id}/refunds`)
    const mine = refunds.items.find((r) => r.id === refund.id)
    check(mine && mine.status === 'succeeded' && mine.settled_at && mine.reason === `契约测试部分退款 ${run}`, 'the refund is not listed as succeeded', refunds)
    as('admin')
    const adminView = await api.get(`/donations/${order.id}/refunds`)
    check(adminView.items.some((r) => r.id === refund.id), 'the foundation admin does not see the refund', adminView)
    as('resident')
    return `refunded ${yuan(done.refunded_fen)} of ${yuan(done.amount_fen)}; refund #${mine.id} succeeded at ${mine.settled_at}`
  })

  as('secretary')
  await step('logout forgets the session', async () => {
    api.logout()
    check(!api.isLoggedIn() && !api.currentUser(), 'still logged in')
    return 'ok'
  })
}

// ---------------------------------------------------------------- main

async function main() {
  check(fs.existsSync(PYTHON), `no Python at ${PYTHON} (set LINSHAN_VENV)`)
  check(fs.existsSync(path.join(MINIPROGRAM, 'utils', 'api.js')), 'miniprogram/utils/api.js is missing')
  tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'linshan-contract-'))

  serverDatabaseUrl = process.env.DATABASE_URL || 'postgresql://postgres@127.0.0.1:5432/postgres'
  databaseName = null
  const name = `linshan_contract_${crypto.randomBytes(4).toString('hex')}`
  python(['-c', PY_CREATE_DB, withDatabase(serverDatabaseUrl, 'postgres'), name])
  databaseName = name
  const databaseUrl = withDatabase(serverDatabaseUrl, name)
  say(`created database ${name}`)

  redisUrl = withRedisDb(process.env.REDIS_URL || 'redis://127.0.0.1:6379', REDIS_DB)
  python(['-c', PY_FLUSH_REDIS, redisUrl])
  say(`flushed Redis database ${REDIS_DB}`)

  const [sandboxPort, appPort] = [await freePort(), await freePort()]
  const sandboxUrl = `http://127.0.0.1:${sandboxPort}/`
  const baseUrl = `http://127.0.0.1:${appPort}`
  const env = Object.assign({}, process.env, {
    APP_ENV: 'development',
    DATABASE_URL: databaseUrl,
    REDIS_URL: redisUrl,
    SECRET_KEY: crypto.randomBytes(32).toString('hex'),
    PUBLIC_BASE_URL: baseUrl,
    WECHAT_API_BASE: sandboxUrl,
    WECHAT_PAY_API_BASE: sandboxUrl,
    INSTANCE_PATH: path.join(tmpDir, 'instance'),
    LOG_LEVEL: 'WARNING',
    RATE_LIMIT_LOGINS_PER_MINUTE: '1000',
    RATE_LIMIT_DONATIONS_PER_MINUTE: '1000',
    SANDBOX_TIME_FACTOR: '100',
    PYTHONUNBUFFERED: '1',
    PATH: path.join(VENV, 'bin') + path.delimiter + (process.env.PATH || '')
  })
  // the sandbox plays WeChat only when no credentials are given
  for (const key of ['WECHAT_APPID', 'WECHAT_SECRET', 'WECHAT_MCH_ID', 'WECHAT_PAY_KEY',
    'WECHAT_MCH_CERT_PATH', 'WECHAT_MCH_KEY_PATH', 'WECHAT_MESSAGE_TOKEN', 'FLASK_APP']) {
    delete env[key]
  }
  fs.mkdirSync(env.INSTANCE_PATH, { recursive: true })

  say('migrating (flask --app backend db upgrade)')
  flask(['db', 'upgrade'], env)
  say('loading the demo data (flask --app backend seed-demo)')
  flask(['seed-demo'], env)

  const sandbox = spawnService('sandbox', ['-m', 'backend.wechat_sandbox', '--port', String(sandboxPort)], env)
  await waitFor(`${sandboxUrl}sandbox/health`, sandbox, 30)
  say(`WeChat sandbox on ${sandboxUrl}`)
  // gunicorn 25+ opens a control socket at a path shared by every instance: not this one
  const gunicornHelp = python(['-m', 'gunicorn', '--help'], { env })
  const noControl = gunicornHelp.includes('--no-control-socket') ? ['--no-control-socket'] : []
  const app = spawnService('app', ['-m', 'gunicorn', '--workers', '2', '--threads', '4',
    '--bind', `127.0.0.1:${appPort}`, '--graceful-timeout', '5', ...noControl, 'backend:create_app()'], env)
  await waitFor(`${baseUrl}/readyz`, app, 60, (status) => status === 200)
  say(`app on ${baseUrl}`)

  try {
    await walk(env, baseUrl)
  } catch (err) {
    for (const entry of children) {
      console.error(`---- last lines of the ${entry.name}'s log`)
      console.error(tailLog(entry))
    }
    throw err
  }
}

main()
  .then(async () => {
    await cleanup()
    say(`contract test passed: ${stepCount} steps`)
    process.exit(0)
  })
  .catch(async (err) => {
    console.error(`\ncontract test FAILED: ${err && err.stack ? err.stack : err}`)
    await cleanup()
    process.exit(1)
  })
