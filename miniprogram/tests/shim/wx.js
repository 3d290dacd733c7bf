// A generic `wx` shim for jest tests. Tests give canned answers:
//   const shim = require('../shim/wx')
//   shim.mockRequest((method, url, data, header) => ({ statusCode: 200, data: {...} }))
// Return { fail: true } (or throw) to simulate a network failure. Every call is logged
// in shim.requests as { method, url, path, query, data, header }.
// wx.downloadFile is logged in shim.downloads; shim.mockDownload / mockSaveImage /
// mockOpenDocument / mockOpenSetting give the answers of the poster page's calls.
// All wx.* functions are jest.fn()s, so `expect(wx.navigateTo).toHaveBeenCalled...` works.
/* global jest */
const fn = (impl) => (typeof jest !== 'undefined' ? jest.fn(impl) : impl)
const later = (cb) => Promise.resolve().then(cb)

const state = {}

function parseUrl(url) {
  const m = /^[a-z]+:\/\/[^/]+(\/[^?]*)(?:\?(.*))?$/.exec(url) || [null, url, '']
  const query = {}
  ;(m[2] || '').split('&').filter(Boolean).forEach((pair) => {
    const [k, v = ''] = pair.split('=')
    query[decodeURIComponent(k)] = decodeURIComponent(v)
  })
  return { path: m[1], query }
}

function answer(handler, args, options, done) {
  let res
  try {
    res = handler(...args)
  } catch (e) {
    res = { fail: true, errMsg: String(e && e.message) }
  }
  Promise.resolve(res).then((r) => {
    if (!r || r.fail) {
      const err = { errMsg: (r && r.errMsg) || 'request:fail' }
      options.fail && options.fail(err)
    } else {
      const out = { statusCode: r.statusCode || 200, data: r.data, header: r.header || {}, errMsg: 'request:ok' }
      options.success && options.success(out)
    }
    options.complete && options.complete()
    done && done()
  })
}

function callback(options, result, ok = true) {
  later(() => {
    if (ok) options.success && options.success(result)
    else options.fail && options.fail(result)
    options.complete && options.complete(result)
  })
}

function reset() {
  state.requestHandler = () => ({ statusCode: 404, data: { code: 404, error: 'not_found', message: '未找到' } })
  state.uploadHandler = () => ({ statusCode: 201, data: JSON.stringify({ id: 1, url: 'https://example.com/1.jpg' }) })
  state.loginHandler = () => ({ code: 'code-' + (++state.loginCount) })
  state.paymentHandler = () => ({ errMsg: 'requestPayment:ok' })
  state.subscribeHandler = (ids) => ids.reduce((acc, id) => Object.assign(acc, { [id]: 'accept' }), { errMsg: 'requestSubscribeMessage:ok' })
  state.chooseMediaHandler = () => ({ tempFiles: [{ tempFilePath: '/tmp/a.jpg', size: 1000, fileType: 'image' }] })
  state.modalHandler = () => ({ confirm: true, cancel: false })
  // wx.downloadFile: (url, options) -> { statusCode, tempFilePath, data? } or { fail: true, errMsg };
  // `data` (a string) is what the temp file holds, read back by wx.getFileSystemManager()
  state.downloadHandler = (url) => ({ statusCode: 200, tempFilePath: '/tmp/download-' + (++state.downloadCount) })
  // wx.saveImageToPhotosAlbum / wx.openDocument / wx.openSetting: (options) -> result; errMsg with "fail" fails
  state.saveImageHandler = () => ({ errMsg: 'saveImageToPhotosAlbum:ok' })
  state.openDocumentHandler = () => ({ errMsg: 'openDocument:ok' })
  state.openSettingHandler = () => ({ errMsg: 'openSetting:ok', authSetting: {} })
  state.downloadCount = 0
  state.files = {}
  state.envVersion = 'develop'
  state.storage = {}
  state.loginCount = 0
  state.privacyHandlers = []
  module.exports.requests = []
  module.exports.uploads = []
  module.exports.downloads = []
  install()
}

function install() {
  const requests = module.exports.requests
  const api = {
    request: fn((options) => {
      const method = (options.method || 'GET').toUpperCase()
      const { path, query } = parseUrl(options.url)
      const header = options.header || {}
      requests.push({ method, url: options.url, path, query, data: options.data, header })
      answer(state.requestHandler, [method, options.url, options.data, header], options)
      return { abort() {} }
    }),
    uploadFile: fn((options) => {
      module.exports.uploads.push(options)
      answer(state.uploadHandler, [options.url, options.filePath, options.name, options.header || {}], options)
      return { abort() {}, onProgressUpdate() {} }
    }),
    login: fn((options) => {
      const r = state.loginHandler()
      callback(options, r, !!(r && r.code))
    }),
    requestPayment: fn((options) => {
      const r = state.paymentHandler(options) || {}
      callback(options, r, !/fail|cancel/.test(r.errMsg || ''))
    }),
    requestSubscribeMessage: fn((options) => {
      const r = state.subscribeHandler(options.tmplIds || [])
      callback(options, r, !/fail/.test((r && r.errMsg) || ''))
    }),
    chooseMedia: fn((options) => callback(options, state.chooseMediaHandler(options))),
    chooseImage: fn((options) => {
      const r = state.chooseMediaHandler(options)
      callback(options, { tempFilePaths: r.tempFiles.map((f) => f.tempFilePath), tempFiles: r.tempFiles })
    }),
    showModal: fn((options) => callback(options, state.modalHandler(options))),
    downloadFile: fn((options) => {
      module.exports.downloads.push(options)
      const r = state.downloadHandler(options.url, options) || {}
      const tempFilePath = r.tempFilePath || (r.fail ? undefined : '/tmp/download-' + (++state.downloadCount))
      if (tempFilePath && typeof r.data === 'string') state.files[tempFilePath] = r.data
      callback(options, r.fail ? { errMsg: r.errMsg || 'downloadFile:fail' }
        : { statusCode: r.statusCode || 200, tempFilePath, errMsg: 'downloadFile:ok' }, !r.fail)
      return { abort() {}, onProgressUpdate() {} }
    }),
    saveImageToPhotosAlbum: fn((options) => {
      const r = state.saveImageHandler(options) || {}
      callback(options, r, !/fail/.test(r.errMsg || ''))
    }),
    openDocument: fn((options) => {
      const r = state.openDocumentHandler(options) || {}
      callback(options, r, !/fail/.test(r.errMsg || ''))
    }),
    openSetting: fn((options) => {
      const r = state.openSettingHandler(options) || {}
      callback(options || {}, r, !/fail/.test(r.errMsg || ''))
    }),
    getFileSystemManager: fn(() => ({
      readFileSync: (filePath) => {
        if (!(filePath in state.files)) throw new Error('readFileSync:fail no such file ' + filePath)
        return state.files[filePath]
      }
    })),
    getStorageSync: fn((key) => (key in state.storage ? state.storage[key] : '')),
    setStorageSync: fn((key, value) => { state.storage[key] = value }),
    removeStorageSync: fn((key) => { delete state.storage[key] }),
    clearStorageSync: fn(() => { state.storage = {} }),
    getAccountInfoSync: fn(() => ({ miniProgram: { appId: 'touristappid', envVersion: state.envVersion, version: '' } })),
    getExtConfigSync: fn(() => ({})),
    getSystemInfoSync: fn(() => ({ platform: 'devtools', windowWidth: 375, windowHeight: 667, pixelRatio: 2 })),
    getWindowInfo: fn(() => ({ windowWidth: 375, windowHeight: 667, pixelRatio: 2 })),
    onNeedPrivacyAuthorization: fn((handler) => { state.privacyHandlers.push(handler) }),
    requirePrivacyAuthorize: fn((options) => callback(options, {})),
    openPrivacyContract: fn((options) => callback(options || {}, {}))
  }
  ;[
    'navigateTo', 'redirectTo', 'switchTab', 'reLaunch', 'navigateBack',
    'showToast', 'hideToast', 'showLoading', 'hideLoading', 'stopPullDownRefresh', 'startPullDownRefresh',
    'previewImage', 'setNavigationBarTitle', 'showShareMenu', 'hideShareMenu',
    'vibrateShort', 'setClipboardData', 'makePhoneCall', 'pageScrollTo'
  ].forEach((name) => {
    api[name] = fn((options) => { if (options && typeof options === 'object') callback(options, { errMsg: name + ':ok' }) })
  })
  global.wx = Object.assign(global.wx || {}, api)
  global.getApp = global.getApp || (() => global.__app || (global.__app = { globalData: {} }))
  global.getCurrentPages = global.getCurrentPages || (() => [])
  return global.wx
}

// Lets pending callbacks and promise chains run (works with fake timers too).
async function flush(rounds = 30) {
  for (let i = 0; i < rounds; i++) await Promise.resolve()
}

// A JSON answer in the contract's error shape.
function apiError(statusCode, error, message, errors) {
  return { statusCode, data: { code: statusCode, status: 'Error', error, message, errors } }
}

module.exports = {
  install,
  reset,
  flush,
  apiError,
  requests: [],
  uploads: [],
  downloads: [],
  mockRequest: (handler) => { state.requestHandler = handler },
  mockUpload: (handler) => { state.uploadHandler = handler },
  mockLogin: (handler) => { state.loginHandler = handler },
  mockPayment: (handler) => { state.paymentHandler = handler },
  mockSubscribe: (handler) => { state.subscribeHandler = handler },
  mockChooseMedia: (handler) => { state.chooseMediaHandler = handler },
  mockModal: (handler) => { state.modalHandler = handler },
  mockDownload: (handler) => { state.downloadHandler = handler },
  mockSaveImage: (handler) => { state.saveImageHandler = handler },
  mockOpenDocument: (handler) => { state.openDocumentHandler = handler },
  mockOpenSetting: (handler) => { state.openSettingHandler = handler },
  setEnv: (envVersion) => { state.envVersion = envVersion },
  setStorage: (key, value) => { state.storage[key] = value },
  storage: () => state.storage,
  privacyHandlers: () => state.privacyHandlers,
  // Route table helper: routes({ 'GET /needs': answer | (data, query, header) => answer })
  routes(table) {
    state.requestHandler = (method, url, data, header) => {
      const { path, query } = parseUrl(url)
      const key = method + ' ' + path.replace(/^\/api\/v1/, '')
      const hit = table[key]
      if (hit === undefined) return { statusCode: 404, data: { code: 404, error: 'not_found', message: '未找到' } }
      return typeof hit === 'function' ? hit(data, query, header) : hit
    }
  }
}
