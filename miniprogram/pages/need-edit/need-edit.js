// 新建/编辑项目: create a draft need (POST /funds/{id}/needs) or edit one
// (PATCH /needs/{id}), then ask the foundation to publish it (POST /needs/{id}/submit).
const api = require('../../utils/api.js')
const { yuan, toFen } = require('../../utils/money.js')
const L = require('../../components/sec-common/labels.js')
const formErrors = require('../../behaviors/form-errors.js')

const MAX_LINES = 20

function emptyLine() {
  return { item: '', amount: '' }
}

function fenText(fen) {
  // 12345 -> "123.45", 12300 -> "123" (what the user would type)
  if (!Number.isInteger(fen)) return ''
  const whole = Math.floor(fen / 100)
  const cents = fen % 100
  return cents ? whole + '.' + String(cents).padStart(2, '0') : String(whole)
}

Component({
  behaviors: [formErrors],

  data: {
    state: 'loading',
    message: '',
    fundId: null,
    needId: null,
    status: 'draft',
    statusLabel: '草稿',
    editable: true,
    categories: L.CATEGORIES,
    form: {
      title: '',
      categoryIndex: -1,
      story: '',
      goal: '',
      deadline: '',
      beneficiaries: ''
    },
    lines: [emptyLine()],
    linesTotal: yuan(0),
    goalShown: yuan(0),
    linesMatch: false,
    photos: [],
    imageIds: [],
    uploading: 0,
    formError: '',
    busy: false,
    notice: ''
  },

  methods: {
    onLoad(query) {
      query = query || {}
      const fundId = L.idParam(query.fund_id)
      const needId = L.idParam(query.need_id)
      this.setData({ fundId, needId })
      if (!fundId) {
        this.setData({ state: 'error', message: '缺少基金信息，请从工作台进入' })
        return Promise.resolve()
      }
      if (wx.setNavigationBarTitle) wx.setNavigationBarTitle({ title: needId ? '编辑项目' : '新建项目' })
      if (!needId) {
        this.setData({ state: 'ready' })
        return Promise.resolve()
      }
      return this.load()
    },

    onRetry() {
      return this.load()
    },

    load() {
      const { fundId, needId } = this.data
      if (!fundId || !needId) return Promise.resolve()
      this.setData({ state: 'loading', message: '' })
      return api.get('/funds/' + fundId + '/needs/' + needId).then((need) => {
        this.fill(need || {})
        this.setData({ state: 'ready' })
      }).catch((err) => {
        this.setData({ state: 'error', message: L.errorMessage(err) })
      })
    },

    // Put a need from the API into the form.
    fill(need) {
      const categoryIndex = L.CATEGORIES.findIndex((c) => c.value === need.category)
      const lines = (Array.isArray(need.budget_lines) ? need.budget_lines : [])
        .map((l) => ({ item: l.item || '', amount: fenText(l.amount_fen) }))
      const images = Array.isArray(need.images) ? need.images : []
      const photos = images
        .map((i) => ({ id: i.upload_id || i.id, url: i.url, thumbnail_url: i.thumbnail_url || i.url }))
        .filter((p) => p.id)
      this.setStatus(need.status || 'draft')
      this.setData({
        needId: need.id || this.data.needId,
        form: {
          title: need.title || '',
          categoryIndex,
          story: need.story || '',
          goal: fenText(need.goal_fen),
          deadline: need.deadline || '',
          beneficiaries: need.beneficiary_count ? String(need.beneficiary_count) : ''
        },
        lines: lines.length ? lines : [emptyLine()],
        photos,
        imageIds: photos.map((p) => p.id)
      })
      this.recount()
    },

    setStatus(status) {
      this.setData({
        status,
        statusLabel: L.label(L.NEED_STATUS, status),
        editable: status === 'draft'
      })
    },

    // --- form input ---

    onInput(e) {
      const field = e.currentTarget.dataset.field
      this.setData({ ['form.' + field]: e.detail.value })
      this.clearError(field === 'goal' ? 'goal_fen' : field === 'beneficiaries' ? 'beneficiary_count' : field)
      if (field === 'goal') this.recount()
    },

    onCategory(e) {
      this.setData({ 'form.categoryIndex': Number(e.detail.value) })
      this.clearError('category')
    },

    onDeadline(e) {
      this.setData({ 'form.deadline': e.detail.value })
    },

    onClearDeadline() {
      this.setData({ 'form.deadline': '' })
    },

    onLineInput(e) {
      const { index, field } = e.currentTarget.dataset
      this.setData({ ['lines[' + index + '].' + field]: e.detail.value })
      this.recount()
    },

    onAddLine() {
      if (this.data.lines.length >= MAX_LINES) return
      this.setData({ lines: this.data.lines.concat([emptyLine()]) })
    },

    onRemoveLine(e) {
      const index = Number(e.currentTarget.dataset.index)
      const lines = this.data.lines.filter((_, i) => i !== index)
      this.setData({ lines: lines.length ? lines : [emptyLine()] })
      this.recount()
    },

    // The running total of the budget lines against the goal.
    recount() {
      const total = this.data.lines.reduce((sum, l) => sum + (toFen(l.amount) || 0), 0)
      const goal = toFen(this.data.form.goal)
      this.setData({
        linesTotal: yuan(total),
        goalShown: yuan(goal || 0),
        linesMatch: goal !== null && total === goal
      })
    },

    onPhotos(e) {
      this.setData({ imageIds: e.detail.ids || [], uploading: e.detail.uploading || 0 })
      this.clearError('image_ids')
    },

    // --- checks and saving ---

    // The body for the API, or null with the field errors shown.
    collect() {
      const f = this.data.form
      const errors = {}
      const title = (f.title || '').trim()
      const story = (f.story || '').trim()
      if (title.length < 2 || title.length > 30) errors.title = '标题需 2 到 30 个字'
      const category = L.CATEGORIES[f.categoryIndex]
      if (!category) errors.category = '请选择项目类别'
      if (story.length < 20) errors.story = '项目说明至少 20 个字'
      else if (story.length > 2000) errors.story = '项目说明最多 2000 个字'
      const goal = toFen(f.goal)
      if (goal === null) errors.goal_fen = '请输入筹款目标金额（元），最多两位小数'
      else if (goal < 100) errors.goal_fen = '筹款目标至少 ¥1.00'
      else if (goal > 100000000) errors.goal_fen = '筹款目标最多 ¥1,000,000.00'
      let beneficiaries = 0
      if ((f.beneficiaries || '').trim()) {
        beneficiaries = Number(f.beneficiaries.trim())
        if (!Number.isInteger(beneficiaries) || beneficiaries < 0) errors.beneficiary_count = '受益人数需为整数'
      }
      const lines = []
      let lineError = ''
      this.data.lines.forEach((l, i) => {
        const item = (l.item || '').trim()
        const amount = toFen(l.amount)
        if (!item && !(l.amount || '').trim()) return // a blank row is ignored
        if (!item) lineError = lineError || '第 ' + (i + 1) + ' 行缺少用途'
        else if (item.length > 50) lineError = lineError || '第 ' + (i + 1) + ' 行用途最多 50 个字'
        if (amount === null || amount < 1) lineError = lineError || '第 ' + (i + 1) + ' 行金额无效'
        lines.push({ item, amount_fen: amount })
      })
      if (!lineError && !lines.length) lineError = '请至少填写一行预算明细'
      if (!lineError && goal !== null) {
        const total = lines.reduce((s, l) => s + l.amount_fen, 0)
        if (total !== goal) lineError = '预算明细合计 ' + yuan(total) + '，与筹款目标 ' + yuan(goal) + ' 不一致'
      }
      if (lineError) errors.budget_lines = lineError
      if (this.data.uploading) errors.image_ids = '照片还在上传，请稍候'
      if (Object.keys(errors).length) {
        this.setData({ errors, formError: '请检查标红的内容' })
        return null
      }
      return {
        title,
        category: category.value,
        story,
        goal_fen: goal,
        deadline: f.deadline || null,
        beneficiary_count: beneficiaries,
        budget_lines: lines,
        image_ids: this.data.imageIds.slice(0, 9)
      }
    },

    showFailure(err) {
      const errors = L.fieldErrors(err && err.errors)
      this.setData({ errors, formError: L.errorMessage(err), busy: false })
    },

    // Create or edit; resolves the saved need, or null when nothing was saved.
    save() {
      if (this.data.busy) return Promise.resolve(null)
      if (!this.data.editable) {
        this.setData({ formError: '项目已提交待发布，修改前请先撤回' })
        return Promise.resolve(null)
      }
      const body = this.collect()
      if (!body) return Promise.resolve(null)
      this.setData({ busy: true, formError: '', notice: '', errors: {} })
      const { fundId, needId } = this.data
      const call = needId
        ? api.patch('/needs/' + needId, body)
        : api.post('/funds/' + fundId + '/needs', body)
      return call.then((need) => {
        this.setData({ busy: false, needId: (need && need.id) || needId })
        if (need && need.status) this.setStatus(need.status)
        return need || { id: needId }
      }).catch((err) => {
        this.showFailure(err)
        return null
      })
    },

    onSave() {
      return this.save().then((need) => {
        if (!need) return
        this.setData({ notice: '草稿已保存' })
        wx.showToast({ title: '已保存', icon: 'success' })
      })
    },

    onSubmit() {
      return this.save().then((need) => {
        if (!need) return
        this.setData({ busy: true })
        return api.post('/needs/' + this.data.needId + '/submit', {}).then((submitted) => {
          this.setData({ busy: false, notice: '已提交，等待基金会审核发布' })
          this.setStatus((submitted && submitted.status) || 'submitted')
          wx.showToast({ title: '已提交', icon: 'success' })
        }).catch((err) => this.showFailure(err))
      })
    },

    onWithdraw() {
      if (this.data.busy || !this.data.needId) return Promise.resolve()
      this.setData({ busy: true, formError: '', notice: '' })
      return api.post('/needs/' + this.data.needId + '/withdraw', {}).then((need) => {
        this.setData({ busy: false, notice: '已撤回为草稿，可以修改' })
        this.setStatus((need && need.status) || 'draft')
      }).catch((err) => this.showFailure(err))
    }
  }
})
