// 发布进展: a progress update, disclosure or final report on a public need, with up to
// nine photos (POST /needs/{id}/updates). The photos become public.
const api = require('../../utils/api.js')
const L = require('../../components/sec-common/labels.js')
const { loadWithId } = require('../../utils/page.js')
const formErrors = require('../../behaviors/form-errors.js')

const MIN_TEXT = 10
const MAX_TEXT = 2000

Component({
  behaviors: [formErrors],

  data: {
    state: 'loading',
    message: '',
    fundId: null,
    needId: null,
    needTitle: '',
    needs: [],
    needIndex: -1,
    kinds: L.UPDATE_KINDS,
    kindIndex: 0,
    text: '',
    textLength: 0,
    attachmentIds: [],
    uploading: 0,
    formError: '',
    busy: false,
    posted: false
  },

  methods: {
    onLoad(query) {
      query = query || {}
      const fundId = L.idParam(query.fund_id)
      const needId = L.idParam(query.need_id)
      const kindIndex = Math.max(0, L.UPDATE_KINDS.findIndex((k) => k.value === query.kind))
      this.setData({ fundId, needId, kindIndex })
      return loadWithId(this, fundId || needId, '缺少项目信息，请从工作台进入')
    },

    onRetry() {
      return this.load()
    },

    // With a need: its title. Without one: the fund's public needs to choose from.
    load() {
      const { fundId, needId } = this.data
      this.setData({ state: 'loading', message: '' })
      let call
      if (needId) {
        call = api.get(fundId ? '/funds/' + fundId + '/needs/' + needId : '/needs/' + needId)
          .then((need) => this.setData({ needTitle: (need && need.title) || '项目 #' + needId }))
      } else {
        call = api.get('/funds/' + fundId + '/needs', { limit: 100 }).then((page) => {
          const needs = ((page && page.items) || [])
            .filter((n) => n && L.PUBLIC_NEED_STATUSES.indexOf(n.status) >= 0)
            .map((n) => ({
              id: n.id,
              status: n.status,
              label: (n.title || '项目 #' + n.id) + '（' + L.label(L.NEED_STATUS, n.status) + '）'
            }))
          this.setData({ needs, needIndex: needs.length === 1 ? 0 : -1 })
        })
      }
      return call.then(() => {
        this.setData({ state: this.data.needId || this.data.needs.length ? 'ready' : 'empty',
          message: this.data.needId || this.data.needs.length ? '' : '这个基金还没有已发布的项目，发布后才能发布进展' })
      }).catch((err) => {
        this.setData({ state: 'error', message: L.errorMessage(err) })
      })
    },

    onNeed(e) {
      this.setData({ needIndex: Number(e.detail.value) })
      this.clearError('need')
    },

    onKind(e) {
      this.setData({ kindIndex: Number(e.currentTarget.dataset.index) })
    },

    onText(e) {
      const text = e.detail.value || ''
      this.setData({ text, textLength: text.trim().length })
      this.clearError('text')
    },

    onPhotos(e) {
      this.setData({ attachmentIds: e.detail.ids || [], uploading: e.detail.uploading || 0 })
      this.clearError('attachment_ids')
    },

    targetNeedId() {
      if (this.data.needId) return this.data.needId
      const need = this.data.needs[this.data.needIndex]
      return need ? need.id : null
    },

    onSubmit() {
      if (this.data.busy || this.data.posted) return Promise.resolve()
      const errors = {}
      const needId = this.targetNeedId()
      const text = (this.data.text || '').trim()
      if (!needId) errors.need = '请选择项目'
      if (text.length < MIN_TEXT) errors.text = '内容至少 ' + MIN_TEXT + ' 个字'
      else if (text.length > MAX_TEXT) errors.text = '内容最多 ' + MAX_TEXT + ' 个字'
      if (this.data.uploading) errors.attachment_ids = '照片还在上传，请稍候'
      if (Object.keys(errors).length) {
        this.setData({ errors, formError: '请检查标红的内容' })
        return Promise.resolve()
      }
      const kind = (L.UPDATE_KINDS[this.data.kindIndex] || L.UPDATE_KINDS[0]).value
      this.setData({ busy: true, formError: '', errors: {} })
      return api.post('/needs/' + needId + '/updates', {
        kind,
        text,
        attachment_ids: this.data.attachmentIds.slice(0, 9)
      }).then(() => {
        this.setData({ busy: false, posted: true })
        wx.showToast({ title: '已发布', icon: 'success' })
      }).catch((err) => {
        this.setData({
          busy: false,
          formError: L.errorMessage(err),
          errors: L.fieldErrors(err && err.errors)
        })
      })
    },

    onBack() {
      wx.navigateBack({ delta: 1, fail: () => wx.redirectTo({ url: '/pages/workbench/workbench' }) })
    }
  }
})
