// 我的账号: nickname, phone binding (getPhoneNumber), account deletion, and links to
// the workbench (users with roles) and, in develop, the sandbox login.
const api = require('../../utils/api')
const config = require('../../config')
const { errorMessage } = require('../../utils/labels')

const NICKNAME_MAX = 20

function firstError(errors, key) {
  const v = errors && errors[key]
  if (!v) return ''
  return Array.isArray(v) ? String(v[0] || '') : String(v)
}

function viewMe(me) {
  me = me || {}
  return {
    id: me.id || null,
    nickname: me.nickname || '',
    avatarUrl: me.avatar_url || '',
    phoneBound: !!me.phone_bound,
    phoneMasked: typeof me.phone_masked === 'string' ? me.phone_masked : '',
    hasRoles: Array.isArray(me.roles) && me.roles.length > 0
  }
}

Component({
  data: {
    state: 'loading',
    message: '',
    me: null,
    isDevelop: false,
    nickname: '',
    nicknameError: '',
    phoneError: '',
    deleteError: '',
    busy: ''
  },
  methods: {
    onLoad() {
      this.setData({ isDevelop: config.isDevelop() })
      return this.load()
    },
    onShow() {
      // Back from the sandbox login: another user may be logged in now.
      if (this._loaded) return this.load(true)
      return Promise.resolve()
    },
    onRetry() {
      return this.load()
    },
    load(quiet) {
      if (!quiet || !this.data.me) this.setData({ state: 'loading', message: '' })
      return api.get('/me').then((me) => {
        this._loaded = true
        api.rememberUser(me)
        const view = viewMe(me)
        this.setData({ state: 'ready', me: view, nickname: view.nickname, nicknameError: '' })
      }).catch((err) => {
        if (quiet && this.data.me) wx.showToast({ title: errorMessage(err), icon: 'none' })
        else this.setData({ state: 'error', message: errorMessage(err) })
      })
    },
    onPullDownRefresh() {
      return this.load(true).then(() => wx.stopPullDownRefresh())
    },

    // -- nickname ------------------------------------------------------------
    onNickname(e) {
      this.setData({ nickname: (e.detail && e.detail.value) || '', nicknameError: '' })
    },
    onSaveNickname() {
      if (this.data.busy || !this.data.me) return Promise.resolve()
      const nickname = (this.data.nickname || '').trim()
      if (!nickname) {
        this.setData({ nicknameError: '请填写昵称' })
        return Promise.resolve()
      }
      if (nickname.length > NICKNAME_MAX) {
        this.setData({ nicknameError: '昵称最多 ' + NICKNAME_MAX + ' 个字' })
        return Promise.resolve()
      }
      if (nickname === this.data.me.nickname) {
        this.setData({ nicknameError: '' })
        return Promise.resolve()
      }
      this.setData({ busy: 'nickname', nicknameError: '' })
      return api.patch('/me', { nickname }).then((me) => {
        const view = me ? viewMe(me) : Object.assign({}, this.data.me, { nickname })
        api.rememberUser(me || { nickname })
        this.setData({ busy: '', me: view, nickname: view.nickname })
        wx.showToast({ title: '昵称已保存', icon: 'success' })
      }).catch((err) => {
        this.setData({ busy: '', nicknameError: firstError(err && err.errors, 'nickname') || errorMessage(err) })
      })
    },

    // -- phone ---------------------------------------------------------------
    // <button open-type="getPhoneNumber">: detail.code goes to the API, which asks WeChat.
    onGetPhone(e) {
      const detail = (e && e.detail) || {}
      if (this.data.busy) return Promise.resolve()
      if (!detail.code) {
        const denied = /deny|cancel/i.test(detail.errMsg || '')
        this.setData({ phoneError: denied ? '未授权手机号，可稍后再绑定' : '获取手机号失败，请稍后重试' })
        return Promise.resolve()
      }
      this.setData({ busy: 'phone', phoneError: '' })
      return api.post('/me/phone', { code: detail.code }).then((me) => {
        const view = me ? viewMe(me) : Object.assign({}, this.data.me, { phoneBound: true })
        if (!view.phoneBound) view.phoneBound = true
        this.setData({ busy: '', me: view })
        wx.showToast({ title: '手机号已绑定', icon: 'success' })
      }).catch((err) => {
        this.setData({ busy: '', phoneError: errorMessage(err) })
      })
    },

    // -- deletion ------------------------------------------------------------
    onDelete() {
      if (this.data.busy) return Promise.resolve()
      this.setData({ deleteError: '' })
      return new Promise((resolve) => {
        wx.showModal({
          title: '注销账号',
          content: '注销后你的昵称、头像、手机号等个人信息将被删除且无法恢复；捐赠记录会匿名保留用于公开账目。确定注销吗？',
          confirmText: '确认注销',
          confirmColor: '#d4380d',
          cancelText: '再想想',
          success: (res) => resolve(!!(res && res.confirm)),
          fail: () => resolve(false)
        })
      }).then((confirmed) => {
        if (!confirmed) return null
        this.setData({ busy: 'delete' })
        return api.del('/me').then(() => {
          api.logout()
          this.setData({ busy: '' })
          wx.showToast({ title: '账号已注销', icon: 'success' })
          wx.reLaunch({ url: '/pages/index/index' })
        }).catch((err) => {
          this.setData({ busy: '', deleteError: errorMessage(err) })
        })
      })
    },

    // -- links ---------------------------------------------------------------
    goWorkbench() {
      wx.navigateTo({ url: '/pages/workbench/workbench' })
    },
    goDevLogin() {
      wx.navigateTo({ url: '/pages/dev-login/dev-login' })
    }
  }
})
