// HTTP client for the 邻善 API (contract: /api/v1, see shared/API.md).
// Runs in the mini-program and in Node (contract test): `wx` is read from the global scope.
const TOKEN_KEY = 'token'
const USER_KEY = 'user'
const NETWORK_MESSAGE = '网络连接失败，请检查网络后重试'
const STATUS_MESSAGES = {
  400: '请求有误，请检查后重试',
  401: '请先登录',
  403: '没有权限执行此操作',
  404: '内容不存在或已删除',
  409: '操作冲突，请刷新后重试',
  413: '文件太大',
  422: '提交的内容有误',
  429: '操作太频繁，请稍后再试'
}

let settings = { baseUrl: null }
let loginPromise = null

class ApiError extends Error {
  constructor({ status = 0, error = 'error', message = '', errors = null } = {}) {
    super(message)
    this.name = 'ApiError'
    this.status = status
    this.error = error
    this.message = message
    this.errors = errors
  }
}

function getWx() {
  // eslint-disable-next-line no-undef
  if (typeof wx !== 'undefined') return wx
  return typeof globalThis !== 'undefined' ? globalThis.wx : undefined
}

function configure(options = {}) {
  settings = Object.assign({}, settings, options)
  loginPromise = null
}

function baseUrl() {
  if (settings.baseUrl) return settings.baseUrl
  return require('../config.js').baseUrl()
}

function buildUrl(path, query) {
  const full = path.indexOf('/api/') === 0 ? path : '/api/v1' + path
  let url = baseUrl().replace(/\/$/, '') + full
  const parts = []
  Object.keys(query || {}).forEach((key) => {
    const value = query[key]
    if (value === undefined || value === null || value === '') return
    parts.push(encodeURIComponent(key) + '=' + encodeURIComponent(value))
  })
  if (parts.length) url += (url.indexOf('?') >= 0 ? '&' : '?') + parts.join('&')
  return url
}

function storageGet(key) {
  try { return getWx().getStorageSync(key) || null } catch (e) { return null }
}
function storageSet(key, value) {
  try { getWx().setStorageSync(key, value) } catch (e) { /* ignore */ }
}
function storageRemove(key) {
  try { getWx().removeStorageSync(key) } catch (e) { /* ignore */ }
}

function networkError() {
  return new ApiError({ status: 0, error: 'network_error', message: NETWORK_MESSAGE })
}

function toApiError(statusCode, body) {
  if (typeof body === 'string') {
    try { body = JSON.parse(body) } catch (e) { body = null }
  }
  body = body && typeof body === 'object' ? body : {}
  return new ApiError({
    status: statusCode,
    error: body.error || 'http_' + statusCode,
    message: body.message || STATUS_MESSAGES[statusCode] ||
      (statusCode >= 500 ? '服务暂时不可用，请稍后再试' : '请求失败，请稍后重试'),
    errors: body.errors || null
  })
}

// One raw exchange: resolves {statusCode, data} or rejects with a network ApiError.
function send(kind, opts) {
  return new Promise((resolve, reject) => {
    const w = getWx()
    if (!w) return reject(networkError())
    const call = kind === 'upload' ? w.uploadFile : kind === 'download' ? w.downloadFile : w.request
    call.call(w, Object.assign({}, opts, {
      success: (res) => resolve(res),
      fail: () => reject(networkError())
    }))
  })
}

// Retries a network failure once.
function sendWithRetry(kind, opts) {
  return send(kind, opts).catch((err) => {
    if (err.status === 0) return send(kind, opts)
    throw err
  })
}

function parseBody(data) {
  if (typeof data === 'string' && data) {
    try { return JSON.parse(data) } catch (e) { return data }
  }
  return data === undefined || data === '' ? null : data
}

function authHeader(header) {
  const token = storageGet(TOKEN_KEY)
  const h = Object.assign({}, header)
  if (token) h.Authorization = 'Bearer ' + token
  return h
}

// A failed download's body is in its temp file: the contract's error JSON, if it can be read.
function downloadedBody(res) {
  const w = getWx()
  if (!res || !res.tempFilePath || !w || typeof w.getFileSystemManager !== 'function') return null
  try {
    return w.getFileSystemManager().readFileSync(res.tempFilePath, 'utf8')
  } catch (e) {
    return null
  }
}

// kind: 'request' | 'upload' | 'download'; build(header) -> wx options
function call(kind, build, options = {}) {
  const attempt = (reloggedIn) => {
    const opts = build(options.auth === false ? Object.assign({}, options.header) : authHeader(options.header))
    return sendWithRetry(kind, opts).then((res) => {
      const status = res.statusCode
      if (status >= 200 && status < 300) {
        if (kind !== 'download') return parseBody(res.data)
        if (res.tempFilePath) return res.tempFilePath
        throw toApiError(0, { error: 'download_failed', message: '下载失败，请稍后重试' })
      }
      if (status === 401 && !reloggedIn && options.auth !== false) {
        return login().then(() => attempt(true))
      }
      if (kind !== 'download') throw toApiError(status, res.data)
      const err = toApiError(status, downloadedBody(res))
      // the body was unreadable: the caller's words for this status beat the generic ones
      if (err.error === 'http_' + status && options.messages && options.messages[status]) {
        err.message = options.messages[status]
      }
      throw err
    })
  }
  return attempt(false)
}

function request(method, path, query, body, options = {}) {
  const header = Object.assign({ 'Content-Type': 'application/json' }, options.header)
  if (options.idempotencyKey) header['Idempotency-Key'] = options.idempotencyKey
  return call('request', (h) => ({
    url: buildUrl(path, query),
    method,
    data: body === undefined ? undefined : body,
    header: h,
    timeout: 15000
  }), Object.assign({}, options, { header }))
}

const get = (path, query, options) => request('GET', path, query, undefined, options)
const post = (path, body, options) => request('POST', path, null, body || {}, options)
const patch = (path, body, options) => request('PATCH', path, null, body || {}, options)
const del = (path, options) => request('DELETE', path, null, undefined, options)

function upload(filePath, options = {}) {
  return call('upload', (h) => ({
    url: buildUrl('/uploads'),
    filePath,
    name: 'file',
    header: h,
    timeout: 60000
  }), options)
}

// GET a file (a PNG certificate, say) with the session's token: resolves the temp file path.
// Shares request()'s token, 401 re-login, network retry and error mapping; a failed
// download's ApiError carries the API's Chinese message when its body can be read, else
// options.messages[status] (e.g. {409: '...'}), else the generic words for the status.
function download(path, query, options = {}) {
  return call('download', (h) => ({
    url: buildUrl(path, query),
    header: h,
    timeout: 60000
  }), options)
}

function saveSession(result) {
  if (!result || !result.token) throw new ApiError({ status: 0, error: 'login_failed', message: '登录失败，请稍后重试' })
  storageSet(TOKEN_KEY, result.token)
  storageSet(USER_KEY, result.user || null)
  return result.user || null
}

function loginWithCode(code) {
  return post('/auth/wechat-login', { code }, { auth: false }).then(saveSession)
}

function wxLoginCode() {
  return new Promise((resolve, reject) => {
    const w = getWx()
    if (!w || !w.login) return reject(networkError())
    w.login({
      success: (res) => (res && res.code ? resolve(res.code)
        : reject(new ApiError({ status: 0, error: 'login_failed', message: '微信登录失败，请稍后重试' }))),
      fail: () => reject(new ApiError({ status: 0, error: 'login_failed', message: '微信登录失败，请稍后重试' }))
    })
  })
}

// wx.login -> POST /auth/wechat-login; concurrent callers share one login.
function login() {
  if (!loginPromise) {
    loginPromise = wxLoginCode().then(loginWithCode)
    const clear = () => { loginPromise = null }
    loginPromise.then(clear, clear)
  }
  return loginPromise
}

function currentUser() {
  return storageGet(USER_KEY)
}

// Keeps the stored user in step with GET/PATCH /me (nickname, roles), if logged in.
function rememberUser(user) {
  if (!user || typeof user !== 'object' || !storageGet(TOKEN_KEY)) return
  storageSet(USER_KEY, Object.assign({}, storageGet(USER_KEY) || {}, user))
}

function isLoggedIn() {
  return !!storageGet(TOKEN_KEY)
}

function logout() {
  storageRemove(TOKEN_KEY)
  storageRemove(USER_KEY)
}

// A random key for Idempotency-Key headers.
function newIdempotencyKey() {
  let s = Date.now().toString(36) + '-'
  for (let i = 0; i < 16; i++) s += Math.floor(Math.random() * 36).toString(36)
  return s
}

module.exports = {
  ApiError, NETWORK_MESSAGE, configure, buildUrl,
  get, post, patch, del, upload, download,
  login, loginWithCode, currentUser, rememberUser, isLoggedIn, logout, newIdempotencyKey
}
