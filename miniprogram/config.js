// Backend base URL per environment (develop / trial / release).
// For trial and release, create config.local.js (not committed) exporting
// { trial: 'https://...', release: 'https://...' }, or set ext.json's extConfig.baseUrl.
const defaults = {
  develop: 'http://127.0.0.1:5000',
  trial: 'https://trial.example.invalid',
  release: 'https://api.example.invalid'
}

function envVersion() {
  try {
    return wx.getAccountInfoSync().miniProgram.envVersion || 'develop'
  } catch (e) {
    return 'develop'
  }
}

function overrides() {
  let local = {}
  try {
    local = require('./config.local.js') || {}
  } catch (e) { /* no local override */ }
  try {
    const ext = wx.getExtConfigSync ? wx.getExtConfigSync() : {}
    if (ext && ext.baseUrl) local = Object.assign({}, local, { [envVersion()]: ext.baseUrl })
    if (ext && ext.templateIds) local = Object.assign({}, local, { templateIds: ext.templateIds })
  } catch (e) { /* no ext config */ }
  return local
}

function baseUrl() {
  const env = envVersion()
  return overrides()[env] || defaults[env] || defaults.develop
}

// Subscription message template ids (from the mini-program admin console), set in
// config.local.js as { templateIds: ['...'] }; none by default.
function subscribeTemplateIds() {
  return overrides().templateIds || []
}

module.exports = {
  envVersion,
  baseUrl,
  subscribeTemplateIds,
  isDevelop: () => envVersion() === 'develop'
}
