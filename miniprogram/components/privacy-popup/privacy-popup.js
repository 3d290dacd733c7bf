// Privacy guide: app.js forwards wx.onNeedPrivacyAuthorization here; the user's choice resolves it.
Component({
  data: { show: false },
  lifetimes: {
    attached() {
      const app = typeof getApp === 'function' ? getApp() : null
      this._listeners = app && app.globalData && app.globalData.privacyListeners
      this._listener = (resolve) => {
        this._resolve = resolve
        this.setData({ show: true })
      }
      if (this._listeners) this._listeners.push(this._listener)
    },
    detached() {
      if (this._listeners) {
        const i = this._listeners.indexOf(this._listener)
        if (i >= 0) this._listeners.splice(i, 1)
      }
      this.finish('disagree')
    }
  },
  methods: {
    finish(event) {
      const resolve = this._resolve
      this._resolve = null
      if (this.data.show) this.setData({ show: false })
      if (resolve) resolve(event === 'agree' ? { buttonId: 'agree-btn', event: 'agree' } : { event: 'disagree' })
      if (event) this.triggerEvent(event)
    },
    onAgree() { this.finish('agree') },
    onDisagree() { this.finish('disagree') },
    openContract() {
      if (wx.openPrivacyContract) wx.openPrivacyContract({})
    }
  }
})
