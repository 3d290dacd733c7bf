// 提交支出: an expense against a need of the fund or its pool, with evidence photos.
// One Idempotency-Key per form, so a retry after a lost answer cannot pay twice.
const api = require('../../utils/api.js')
const { yuan, toFen } = require('../../utils/money.js')
const L = require('../../components/sec-common/labels.js')
const { loadWithId } = require('../../utils/page.js')
const formErrors = require('../../behaviors/form-errors.js')

const PAYEE_TYPES = [
  { value: 'organization', label: '机构（商户、单位）' },
  { value: 'person', label: '个人（公开时隐去姓名）' }
]

function localKey() {
  let s = 'exp-' + Date.now().toString(36) + '-'
  for (let i = 0; i < 16; i++) s += Math.floor(Math.random() * 36).toString(36)
  return s
}

function newKey() {
  return typeof api.newIdempotencyKey === 'function' ? api.newIdempotencyKey() : localKey()
}

Component({
  behaviors: [formErrors],

  data: {
    state: 'loading',
    message: '',
    fundId: null,
    fundName: '',
    balance: '',
    accounts: [],
    accountIndex: 0,
    payeeTypes: PAYEE_TYPES,
    form: { amount: '', payeeName: '', payeeType: 'organization', purpose: '' },
    amountShown: '',
    attachmentIds: [],
    uploading: 0,
    formError: '',
    overdue: null,
    busy: false
  },

  methods: {
    onLoad(query) {
      query = query || {}
      this.idempotencyKey = newKey()
      const fundId = L.idParam(query.fund_id)
      this.wantedNeedId = L.idParam(query.need_id)
      this.setData({ fundId })
      return loadWithId(this, fundId, '缺少基金信息，请从工作台进入')
    },

    onRetry() {
      return this.load()
    },

    load() {
      const fundId = this.data.fundId
      if (!fundId) return Promise.resolve()
      this.setData({ state: 'loading', message: '' })
      return Promise.all([
        api.get('/funds/' + fundId),
        api.get('/funds/' + fundId + '/needs', { limit: 100 })
      ]).then(([fund, page]) => {
        const needs = ((page && page.items) || [])
          .filter((n) => n && L.SPENDABLE_NEED_STATUSES.indexOf(n.status) >= 0)
        const accounts = [{ needId: null, status: null, label: '基金池（不指定项目）' }].concat(
          needs.map((n) => ({
            needId: n.id,
            status: n.status,
            label: (n.title || '项目 #' + n.id) + '（' + L.label(L.NEED_STATUS, n.status) + '）'
          })))
        let accountIndex = 0
        if (this.wantedNeedId) {
          accountIndex = accounts.findIndex((a) => a.needId === this.wantedNeedId)
          if (accountIndex < 0) {
            accounts.push({ needId: this.wantedNeedId, status: null, label: '项目 #' + this.wantedNeedId })
            accountIndex = accounts.length - 1
          }
        }
        this.setData({
          state: 'ready',
          fundName: (fund && fund.name) || '',
          balance: fund && Number.isInteger(fund.balance_fen) ? yuan(fund.balance_fen) : '',
          accounts,
          accountIndex
        })
      }).catch((err) => {
        this.setData({ state: 'error', message: L.errorMessage(err) })
      })
    },

    onAccount(e) {
      this.setData({ accountIndex: Number(e.detail.value), overdue: null })
      this.clearError('need_id')
    },

    onInput(e) {
      const field = e.currentTarget.dataset.field
      const value = e.detail.value
      this.setData({ ['form.' + field]: value })
      if (field === 'amount') {
        const fen = toFen(value)
        this.setData({ amountShown: fen ? yuan(fen) : '' })
      }
      this.clearError({ amount: 'amount_fen', payeeName: 'payee_name', purpose: 'purpose' }[field])
    },

    onPayeeType(e) {
      const value = e.currentTarget.dataset.value
      this.setData({ 'form.payeeType': value })
      this.clearError('payee_type')
    },

    onPhotos(e) {
      this.setData({ attachmentIds: e.detail.ids || [], uploading: e.detail.uploading || 0 })
      this.clearError('attachment_ids')
    },

    // The body for the API, or null with the field errors shown.
    collect() {
      const f = this.data.form
      const errors = {}
      const amount = toFen(f.amount)
      if (amount === null || amount < 1) errors.amount_fen = '请输入金额（元），最多两位小数'
      const payeeName = (f.payeeName || '').trim()
      if (payeeName.length < 2 || payeeName.length > 60) errors.payee_name = '收款方名称需 2 到 60 个字'
      if (['person', 'organization'].indexOf(f.payeeType) < 0) errors.payee_type = '请选择收款方类型'
      const purpose = (f.purpose || '').trim()
      if (purpose.length < 4 || purpose.length > 200) errors.purpose = '用途说明需 4 到 200 个字'
      if (this.data.uploading) errors.attachment_ids = '凭证还在上传，请稍候'
      else if (!this.data.attachmentIds.length) errors.attachment_ids = '请至少上传一张发票、收据或其他凭证'
      if (Object.keys(errors).length) {
        this.setData({ errors, formError: '请检查标红的内容' })
        return null
      }
      const account = this.data.accounts[this.data.accountIndex] || {}
      const body = {
        amount_fen: amount,
        payee_name: payeeName,
        payee_type: f.payeeType,
        purpose,
        attachment_ids: this.data.attachmentIds.slice(0, 9)
      }
      if (account.needId) body.need_id = account.needId
      return body
    },

    onSubmit() {
      if (this.data.busy) return Promise.resolve()
      const body = this.collect()
      if (!body) return Promise.resolve()
      this.setData({ busy: true, formError: '', errors: {}, overdue: null })
      const fundId = this.data.fundId
      return api.post('/funds/' + fundId + '/expenses', body, { idempotencyKey: this.idempotencyKey })
        .then((expense) => {
          this.setData({ busy: false })
          wx.showToast({ title: '已提交审批', icon: 'success' })
          if (expense && expense.id) wx.redirectTo({ url: '/pages/expense/expense?id=' + expense.id })
        })
        .catch((err) => {
          const patch = { busy: false, formError: L.errorMessage(err), errors: L.fieldErrors(err && err.errors) }
          if (err && err.error === 'disclosure_overdue') {
            const account = this.data.accounts[this.data.accountIndex] || {}
            patch.formError = ''
            patch.overdue = {
              message: L.errorMessage(err),
              url: account.needId
                ? '/pages/update-new/update-new?fund_id=' + fundId + '&need_id=' + account.needId +
                  '&kind=' + L.disclosureKind(account.status)
                : '/pages/disclosures/disclosures?fund_id=' + fundId
            }
          }
          this.setData(patch)
        })
    },

    onNavigate(e) {
      const url = e.currentTarget.dataset.url
      if (url) wx.navigateTo({ url })
    }
  }
})
