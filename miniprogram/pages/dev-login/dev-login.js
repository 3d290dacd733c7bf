const api = require('../../utils/api')
const config = require('../../config')
const { errorMessage } = require('../../utils/labels')

const NAMES = ['resident', 'donor', 'secretary', 'committee', 'supervisor', 'foundation']

// Develop only: log in as a WeChat-sandbox user (code "NAME.<nonce>").
Component({
  data: { allowed: false, names: NAMES, name: '', user: null, busy: false, error: '' },
  methods: {
    onLoad() {
      this.setData({ allowed: config.isDevelop(), user: api.currentUser() })
    },
    onNameInput(e) {
      this.setData({ name: (e.detail.value || '').trim(), error: '' })
    },
    onPick(e) {
      return this.loginAs(e.currentTarget.dataset.name)
    },
    onCustom() {
      if (!/^[A-Za-z0-9_-]{1,32}$/.test(this.data.name)) {
        this.setData({ error: '用户名只能包含字母、数字、下划线或连字符' })
        return Promise.resolve()
      }
      return this.loginAs(this.data.name)
    },
    loginAs(name) {
      if (!this.data.allowed || this.data.busy) return Promise.resolve()
      const nonce = Date.now().toString(36) + Math.floor(Math.random() * 1e6).toString(36)
      this.setData({ busy: true, error: '' })
      api.logout()
      return api.loginWithCode(name + '.' + nonce).then((user) => {
        this.setData({ busy: false, user })
        wx.showToast({ title: '已登录为 ' + name, icon: 'none' })
        wx.switchTab({ url: '/pages/index/index' })
      }).catch((err) => this.setData({ busy: false, error: errorMessage(err) }))
    },
    onLogout() {
      api.logout()
      this.setData({ user: null })
    }
  }
})
