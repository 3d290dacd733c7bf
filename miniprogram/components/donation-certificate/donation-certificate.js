// 捐赠证书 button of a donation: downloads the certificate PNG with the session's token,
// previews it, and saves it to the album (a refused permission points to the settings).
const certificate = require('../../utils/certificate')
const { errorMessage } = require('../../utils/labels')

Component({
  properties: {
    donationId: { type: Number, value: 0 },
    certificateNo: { type: String, value: '' }
  },
  data: { busy: '', path: '', notice: '', error: '', denied: false },
  observers: {
    donationId() {
      this.setData({ busy: '', path: '', notice: '', error: '', denied: false })
    }
  },
  methods: {
    onOpen() {
      if (this.data.busy || !this.data.donationId) return Promise.resolve()
      if (this.data.path) {
        certificate.preview(this.data.path)
        return Promise.resolve()
      }
      this.setData({ busy: 'open', notice: '', error: '', denied: false })
      wx.showLoading({ title: '正在生成证书…', mask: true })
      return certificate.download(this.data.donationId).then((path) => {
        wx.hideLoading()
        this.setData({ busy: '', path })
        certificate.preview(path)
      }, (err) => {
        wx.hideLoading()
        this.setData({ busy: '', error: errorMessage(err) })
      })
    },
    onSave() {
      if (this.data.busy || !this.data.path) return Promise.resolve()
      this.setData({ busy: 'save', notice: '', error: '', denied: false })
      return certificate.save(this.data.path).then((result) => {
        this.setData({ busy: '' })
        if (result === 'saved') {
          this.setData({ notice: '证书已保存到相册' })
          wx.showToast({ title: '已保存', icon: 'success' })
        } else if (result === 'denied') {
          this.setData({ denied: true, error: certificate.ALBUM_DENIED })
          return certificate.askSetting().then((allowed) => this.afterSetting(allowed))
        }
        return null
      }, (err) => {
        this.setData({ busy: '', error: errorMessage(err) })
      })
    },
    onOpenSetting() {
      return certificate.openSetting().then((allowed) => this.afterSetting(allowed))
    },
    afterSetting(allowed) {
      if (allowed) this.setData({ denied: false, error: '', notice: '已允许保存到相册，请再点一次保存' })
    }
  }
})
