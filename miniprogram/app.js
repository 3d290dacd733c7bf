const api = require('./utils/api')
const config = require('./config')

App({
  globalData: {
    user: null,
    regionId: null,
    // privacy popup components register here; wx.onNeedPrivacyAuthorization resolves through them
    privacyListeners: []
  },

  onLaunch() {
    this.globalData.regionId = wx.getStorageSync('region') ? wx.getStorageSync('region').id : null
    if (wx.onNeedPrivacyAuthorization) {
      wx.onNeedPrivacyAuthorization((resolve, eventInfo) => {
        const listeners = this.globalData.privacyListeners
        if (listeners.length) listeners[listeners.length - 1](resolve, eventInfo)
        else resolve({ event: 'disagree' })
      })
    }
    // In develop the sandbox knows no real wx.login codes: a user picked on pages/dev-login is kept.
    if (config.isDevelop() && api.isLoggedIn()) return
    api.login()
      .then((user) => { this.globalData.user = user })
      .catch(() => { /* pages retry on demand; a 401 re-logs in */ })
  }
})
