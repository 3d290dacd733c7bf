// 海报与二维码: a space's mini-program code (or one of its needs'), the A4 poster as a
// PNG saved to the album and as a PDF opened in WeChat's viewer.
const api = require('../../utils/api.js')
const L = require('../../components/sec-common/labels.js')

const ALBUM_DENIED = '没有保存到相册的权限。请在设置中允许“保存到相册”后重试。'

function isAuthDenied(err) {
  const msg = (err && err.errMsg) || ''
  return /auth|authorize|permission|denied|deny/i.test(msg)
}

function isCancel(err) {
  return /cancel/i.test((err && err.errMsg) || '')
}

// wx.downloadFile as a promise of the temp file path; refuses non-200 answers.
function download(url) {
  return new Promise((resolve, reject) => {
    wx.downloadFile({
      url,
      timeout: 60000,
      success: (res) => {
        if (res && res.statusCode === 200 && res.tempFilePath) resolve(res.tempFilePath)
        else {
          const status = res && res.statusCode
          reject(new Error(status === 404 ? '慈善空间或项目不存在' : '海报生成失败，请稍后再试'))
        }
      },
      fail: () => reject(new Error(api.NETWORK_MESSAGE))
    })
  })
}

function wxCall(name, options) {
  return new Promise((resolve, reject) => {
    wx[name](Object.assign({}, options, { success: resolve, fail: reject }))
  })
}

Component({
  data: {
    state: 'loading',
    message: '',
    code: '',
    name: '',
    targets: [],
    targetIndex: 0,
    codeUrl: '',
    webQrUrl: '',
    busy: '',
    notice: '',
    error: '',
    denied: false
  },

  methods: {
    onLoad(query) {
      query = query || {}
      const code = query.code ? decodeURIComponent(String(query.code)) : ''
      this.setData({ code })
      if (!code) {
        this.setData({ state: 'error', message: '缺少慈善空间信息，请从慈善空间列表进入' })
        return Promise.resolve()
      }
      this.wantedNeedId = L.idParam(query.need_id)
      return this.load()
    },

    onRetry() {
      return this.load()
    },

    load() {
      const code = this.data.code
      this.setData({ state: 'loading', message: '' })
      return api.get('/spaces/' + encodeURIComponent(code)).then((space) => {
        const s = space || {}
        const targets = [{ needId: null, label: '整个慈善空间' }].concat(
          (Array.isArray(s.needs) ? s.needs : []).filter((n) => n && n.id)
            .map((n) => ({ needId: n.id, label: '项目：' + (n.title || '#' + n.id) })))
        let targetIndex = 0
        if (this.wantedNeedId) targetIndex = Math.max(0, targets.findIndex((t) => t.needId === this.wantedNeedId))
        this.setData({ state: 'ready', name: s.name || '慈善空间', targets })
        this.pick(targetIndex)
      }).catch((err) => {
        this.setData({ state: 'error', message: L.errorMessage(err) })
      })
    },

    pick(index) {
      const target = this.data.targets[index] || this.data.targets[0]
      const query = { need_id: target && target.needId }
      const base = '/spaces/' + encodeURIComponent(this.data.code)
      this.setData({
        targetIndex: index,
        codeUrl: api.buildUrl(base + '/qrcode.png', query),
        webQrUrl: api.buildUrl(base + '/webqr.png', query),
        notice: '',
        error: '',
        denied: false
      })
    },

    posterUrl(format) {
      const target = this.data.targets[this.data.targetIndex] || {}
      return api.buildUrl('/spaces/' + encodeURIComponent(this.data.code) + '/poster',
        { format, need_id: target.needId })
    },

    onTarget(e) {
      this.pick(Number(e.currentTarget.dataset.index))
    },

    onPreviewCode() {
      const urls = [this.data.codeUrl, this.data.webQrUrl]
      wx.previewImage({ urls, current: this.data.codeUrl })
    },

    onPreviewWebQr() {
      const urls = [this.data.codeUrl, this.data.webQrUrl]
      wx.previewImage({ urls, current: this.data.webQrUrl })
    },

    // PNG poster -> the album; a refused permission says how to allow it.
    onSavePoster() {
      return this.saveImage(this.posterUrl('png'), '海报已保存到相册')
    },

    onSaveCode() {
      return this.saveImage(this.data.codeUrl, '小程序码已保存到相册')
    },

    saveImage(url, done) {
      if (this.data.busy) return Promise.resolve()
      this.setData({ busy: 'save', notice: '', error: '', denied: false })
      wx.showLoading({ title: '正在下载…', mask: true })
      return download(url).then((filePath) => {
        return wxCall('saveImageToPhotosAlbum', { filePath }).then(() => {
          wx.hideLoading()
          this.setData({ busy: '', notice: done })
          wx.showToast({ title: '已保存', icon: 'success' })
        }, (err) => {
          wx.hideLoading()
          if (isCancel(err) && !isAuthDenied(err)) {
            this.setData({ busy: '' })
            return
          }
          if (isAuthDenied(err)) {
            this.setData({ busy: '', denied: true, error: ALBUM_DENIED })
            return this.askSetting()
          }
          this.setData({ busy: '', error: '保存失败，请稍后重试' })
        })
      }).catch((err) => {
        wx.hideLoading()
        this.setData({ busy: '', error: L.errorMessage(err) })
      })
    },

    askSetting() {
      return wxCall('showModal', {
        title: '需要相册权限',
        content: '保存海报需要“保存到相册”权限，是否去设置中开启？',
        confirmText: '去设置',
        cancelText: '暂不'
      }).then((res) => {
        if (res && res.confirm) return this.onOpenSetting()
        return null
      }, () => null)
    },

    onOpenSetting() {
      return wxCall('openSetting', {}).then((res) => {
        const allowed = res && res.authSetting && res.authSetting['scope.writePhotosAlbum']
        if (allowed) this.setData({ denied: false, error: '', notice: '已允许保存到相册，请再点一次保存' })
      }, () => null)
    },

    // PDF poster -> WeChat's document viewer (print or forward from there).
    onOpenPdf() {
      if (this.data.busy) return Promise.resolve()
      this.setData({ busy: 'pdf', notice: '', error: '', denied: false })
      wx.showLoading({ title: '正在下载…', mask: true })
      return download(this.posterUrl('pdf'))
        .then((filePath) => wxCall('openDocument', { filePath, fileType: 'pdf', showMenu: true })
          .catch(() => { throw new Error('无法打开 PDF，请稍后重试') }))
        .then(() => {
          wx.hideLoading()
          this.setData({ busy: '' })
        }, (err) => {
          wx.hideLoading()
          this.setData({ busy: '', error: L.errorMessage(err) })
        })
    }
  }
})
