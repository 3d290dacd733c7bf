// 订阅消息: consent to WeChat subscribe messages (donation paid, money spent).
// Template ids come from config.js when set there, else from GET /me/subscriptions.
const api = require('./api')
const config = require('../config')

// Resolves {ids, consents}: the template ids to ask for and the remaining sends per id.
// Never rejects: without ids the page simply offers no consent button.
function load() {
  const configured = config.subscribeTemplateIds()
  return api.get('/me/subscriptions').then((answer) => {
    const templates = (answer && Array.isArray(answer.templates)) ? answer.templates : []
    const ids = configured.length ? configured
      : templates.map((t) => t && t.template_id).filter(Boolean)
    return { ids, consents: consentsOf(answer) }
  }, () => ({ ids: configured, consents: {} }))
}

// {template_id: remaining}: from `consents`, or from each template's own `remaining`.
function consentsOf(answer) {
  const out = {}
  ;((answer && answer.templates) || []).forEach((t) => {
    if (t && t.template_id && Number.isInteger(t.remaining)) out[t.template_id] = t.remaining
  })
  ;((answer && answer.consents) || []).forEach((c) => {
    if (c && c.template_id) out[c.template_id] = c.remaining || 0
  })
  return out
}

// Must run from a tap (WeChat's rule). Resolves the accepted ids that were recorded
// ([] when the user accepted none); rejects with an ApiError when recording failed.
// A 404 (an older backend without the endpoint) counts as recorded nowhere: [].
function ask(ids) {
  if (!ids || !ids.length) return Promise.resolve([])
  return new Promise((resolve) => {
    wx.requestSubscribeMessage({ tmplIds: ids, success: resolve, fail: () => resolve(null) })
  }).then((res) => {
    const accepted = ids.filter((id) => res && res[id] === 'accept')
    if (!accepted.length) return []
    return api.post('/me/subscriptions', { template_ids: accepted }).then(() => accepted, (err) => {
      if (err && err.status === 404) return []
      throw err
    })
  })
}

module.exports = { load, ask }
