// Small helpers shared by the pages.

// Opens a page that needs an id from its query: without it the page shows its error
// state with `missing` (where to open it from); with it the page loads.
function loadWithId(page, id, missing) {
  if (!id) {
    page.setData({ state: 'error', message: missing })
    return Promise.resolve()
  }
  return page.load()
}

// wx.showModal as a promise: resolves with its result, or { confirm: false } if the
// dialog could not be shown.
function confirmModal(options) {
  return new Promise((resolve) => {
    wx.showModal(Object.assign({}, options, { success: resolve, fail: () => resolve({ confirm: false }) }))
  })
}

module.exports = { loadWithId, confirmModal }
