// 新建/编辑慈善空间: POST /spaces or PATCH /spaces/{code}. Name, address, hours, a short
// description, one photo, the region (the fund's region or below) and the needs shown in order.
const api = require('../../utils/api.js')
const L = require('../../components/sec-common/labels.js')
const { loadWithId } = require('../../utils/page.js')
const formErrors = require('../../behaviors/form-errors.js')

// What the API takes (backend/api/schemas/spaces.py).
const MAX_NEEDS = 20
const CODE_PATTERN = /^[a-z0-9][a-z0-9-]{1,15}$/
// Needs a space may show: the fund's public ones still worth a visit.
const SHOWN_STATUSES = ['fundraising', 'funded', 'in_progress', 'completed']

function items(page) {
  return (page && Array.isArray(page.items)) ? page.items : []
}

// The node with this id in the region tree, or null.
function findRegion(nodes, id) {
  for (const node of nodes || []) {
    if (!node) continue
    if (node.id === id) return node
    const hit = findRegion(node.children, id)
    if (hit) return hit
  }
  return null
}

// A region and everything below it, depth first, indented by depth.
function flatten(node, depth, out) {
  out.push({
    id: node.id,
    label: '\u3000'.repeat(depth) + (node.name || '区域 #' + node.id),
    name: node.name || '区域 #' + node.id
  })
  ;(node.children || []).forEach((child) => child && flatten(child, depth + 1, out))
  return out
}

function needOption(need) {
  return {
    id: need.id,
    title: need.title || '项目 #' + need.id,
    status: L.label(L.NEED_STATUS, need.status)
  }
}

function hasLineBreak(text) {
  return /[\r\n\u2028\u2029]/.test(text)
}

Component({
  behaviors: [formErrors],

  data: {
    state: 'loading',
    message: '',
    fundId: null,
    code: '',
    isNew: true,
    fundName: '',
    form: { name: '', address: '', hours: '', description: '', code: '' },
    regions: [],
    regionIndex: -1,
    photo: { url: '', uploadId: null, status: 'none', message: '' },
    chosen: [],
    available: [],
    // editing a space whose chosen needs have all ended: it shows none until changed
    chosenEnded: false,
    maxNeeds: MAX_NEEDS,
    formError: '',
    busy: false
  },

  methods: {
    onLoad(query) {
      query = query || {}
      const fundId = L.idParam(query.fund_id)
      const code = query.code ? decodeURIComponent(String(query.code)) : ''
      this.setData({ fundId, code, isNew: !code })
      if (fundId && wx.setNavigationBarTitle) wx.setNavigationBarTitle({ title: code ? '编辑慈善空间' : '新建慈善空间' })
      return loadWithId(this, fundId, '缺少基金信息，请从工作台进入')
    },

    onRetry() {
      return this.load()
    },

    load() {
      const { fundId, code } = this.data
      if (!fundId) return Promise.resolve()
      this.setData({ state: 'loading', message: '' })
      return Promise.all([
        api.get('/funds/' + fundId),
        api.get('/regions'),
        api.get('/funds/' + fundId + '/needs', { limit: 100 }),
        code ? api.get('/spaces/' + encodeURIComponent(code)) : Promise.resolve(null)
      ]).then(([fund, tree, page, space]) => {
        const fundRegion = fund && fund.region ? fund.region : null
        const root = fundRegion ? findRegion(Array.isArray(tree) ? tree : [], fundRegion.id) : null
        const regions = root ? flatten(root, 0, [])
          : (fundRegion ? [{ id: fundRegion.id, label: fundRegion.name || '', name: fundRegion.name || '' }] : [])
        const options = items(page).filter((n) => n && SHOWN_STATUSES.indexOf(n.status) >= 0).map(needOption)
        const s = space || {}
        const wantedRegion = s.region ? s.region.id : (regions.length === 1 ? regions[0].id : null)
        // A space that chose no needs shows its fund's open ones: its detail lists those,
        // but its choice starts empty.
        const needsChosen = !!(space && s.needs_chosen)
        const chosen = needsChosen
          ? (Array.isArray(s.needs) ? s.needs : []).filter((n) => n && n.id).map((n) => {
            const known = options.find((o) => o.id === n.id)
            return known || needOption(n)
          })
          : []
        // Where the edit starts (see collect): saving without changes changes nothing.
        const photoId = Number.isInteger(s.photo_upload_id) ? s.photo_upload_id : null
        this.needsTouched = false
        this.start = {
          needsChosen,
          // a photo whose upload the detail does not name (-1) is only ever removed
          photoId: photoId !== null ? photoId : (s.photo_url ? -1 : null)
        }
        this.options = options
        this.setData({
          state: 'ready',
          fundName: (fund && fund.name) || '',
          regions,
          regionIndex: regions.findIndex((r) => r.id === wantedRegion),
          form: {
            name: s.name || '',
            address: s.address || '',
            hours: s.opening_hours || '',
            description: s.description || '',
            code: ''
          },
          photo: { url: s.photo_url || '', uploadId: photoId, status: s.photo_url ? 'saved' : 'none', message: '' },
          chosen,
          chosenEnded: needsChosen && !chosen.length
        })
        this.refreshAvailable()
      }).catch((err) => {
        this.setData({ state: 'error', message: L.errorMessage(err) })
      })
    },

    // --- the form

    onInput(e) {
      const field = e.currentTarget.dataset.field
      this.setData({ ['form.' + field]: e.detail.value })
      this.clearError({ name: 'name', address: 'address', hours: 'opening_hours', description: 'description', code: 'code' }[field])
    },

    onRegion(e) {
      this.setData({ regionIndex: Number(e.detail.value) })
      this.clearError('region_id')
    },

    // --- the photo: wx.chooseMedia, then POST /uploads

    onPhoto() {
      if (this.data.photo.status === 'uploading') return
      wx.chooseMedia({
        count: 1,
        mediaType: ['image'],
        sourceType: ['album', 'camera'],
        sizeType: ['compressed'],
        success: (res) => {
          const file = ((res && res.tempFiles) || [])[0]
          if (file && file.tempFilePath) this.uploadPhoto(file.tempFilePath)
        },
        fail: () => { /* the user cancelled */ }
      })
    },

    uploadPhoto(path) {
      this.photoPath = path
      this.setData({ photo: { url: path, uploadId: null, status: 'uploading', message: '' } })
      this.clearError('photo_upload_id')
      return api.upload(path).then((up) => {
        if (!up || !up.id) throw new Error('照片上传失败，请重试')
        this.setData({ photo: { url: up.url || path, uploadId: up.id, status: 'done', message: '' } })
      }).catch((err) => {
        this.setData({ photo: { url: path, uploadId: null, status: 'error', message: L.errorMessage(err) } })
      })
    },

    onPhotoRetry() {
      if (this.photoPath) return this.uploadPhoto(this.photoPath)
      return Promise.resolve()
    },

    onPhotoRemove() {
      this.photoPath = null
      this.setData({ photo: { url: '', uploadId: null, status: 'none', message: '' } })
      this.clearError('photo_upload_id')
    },

    onPhotoPreview() {
      const url = this.data.photo.url
      if (url) wx.previewImage({ urls: [url], current: url })
    },

    // --- the needs shown, in order

    refreshAvailable() {
      const taken = this.data.chosen.map((n) => n.id)
      this.setData({ available: (this.options || []).filter((o) => taken.indexOf(o.id) < 0) })
    },

    setChosen(chosen) {
      this.needsTouched = true
      this.setData({ chosen, chosenEnded: false })
      this.refreshAvailable()
      this.clearError('need_ids')
    },

    onNeedAdd(e) {
      const id = Number(e.currentTarget.dataset.id)
      if (this.data.chosen.length >= MAX_NEEDS) {
        this.setData({ errors: Object.assign({}, this.data.errors, { need_ids: '最多展示 ' + MAX_NEEDS + ' 个项目' }) })
        return
      }
      const need = (this.options || []).find((o) => o.id === id)
      if (need) this.setChosen(this.data.chosen.concat([need]))
    },

    onNeedRemove(e) {
      const index = Number(e.currentTarget.dataset.index)
      this.setChosen(this.data.chosen.filter((_, i) => i !== index))
    },

    onNeedMove(e) {
      const index = Number(e.currentTarget.dataset.index)
      const to = index + Number(e.currentTarget.dataset.step)
      const chosen = this.data.chosen.slice()
      if (to < 0 || to >= chosen.length) return
      const moved = chosen.splice(index, 1)[0]
      chosen.splice(to, 0, moved)
      this.setChosen(chosen)
    },

    // --- saving

    // The body for the API, or null with the field errors shown.
    collect() {
      const f = this.data.form
      const errors = {}
      const name = (f.name || '').trim()
      if (name.length < 2 || name.length > 64) errors.name = '名称需 2 到 64 个字'
      else if (hasLineBreak(name)) errors.name = '名称不能换行'
      const address = (f.address || '').trim()
      if (address.length < 2 || address.length > 200) errors.address = '地址需 2 到 200 个字'
      else if (hasLineBreak(address)) errors.address = '地址不能换行'
      const hours = (f.hours || '').trim()
      if (hours.length > 100) errors.opening_hours = '开放时间最多 100 个字'
      else if (hasLineBreak(hours)) errors.opening_hours = '开放时间不能换行'
      const description = (f.description || '').trim()
      if (description.length > 1000) errors.description = '介绍最多 1000 个字'
      const code = (f.code || '').trim()
      if (this.data.isNew && code && !CODE_PATTERN.test(code)) errors.code = '编码为 2–16 位小写字母、数字或连字符，且不能以连字符开头'
      const region = this.data.regions[this.data.regionIndex]
      if (!region) errors.region_id = '请选择所在区域'
      if (this.data.chosen.length > MAX_NEEDS) errors.need_ids = '最多展示 ' + MAX_NEEDS + ' 个项目'
      const photo = this.data.photo
      if (photo.status === 'uploading') errors.photo_upload_id = '照片还在上传，请稍候'
      else if (photo.status === 'error') errors.photo_upload_id = '照片上传失败，请重试或移除'
      if (Object.keys(errors).length) {
        this.setData({ errors, formError: '请检查标红的内容' })
        return null
      }
      const body = {
        name,
        region_id: region.id,
        address,
        opening_hours: hours || null,
        description: description || null
      }
      if (this.data.isNew) {
        body.fund_id = this.data.fundId
        if (code) body.code = code
        if (photo.uploadId) body.photo_upload_id = photo.uploadId
        body.need_ids = this.data.chosen.map((n) => n.id)
      } else {
        // The photo only when it changed (a kept photo may be someone else's upload, which
        // the API would not take from this user). The needs as left when the space chose
        // them, or once the user chose some; an empty list means the fund's open needs, so
        // a space that shows those by default is sent none until the user picks.
        const start = this.start || { needsChosen: false, photoId: null }
        const photoId = photo.uploadId || null
        if (photoId !== start.photoId) body.photo_upload_id = photoId
        const needIds = this.data.chosen.map((n) => n.id)
        if (needIds.length || (start.needsChosen && this.needsTouched)) body.need_ids = needIds
      }
      return body
    },

    onSave() {
      if (this.data.busy) return Promise.resolve()
      const body = this.collect()
      if (!body) return Promise.resolve()
      this.setData({ busy: true, errors: {}, formError: '' })
      const request = this.data.isNew
        ? api.post('/spaces', body)
        : api.patch('/spaces/' + encodeURIComponent(this.data.code), body)
      return request.then(() => {
        this.setData({ busy: false })
        wx.showToast({ title: this.data.isNew ? '已开设' : '已保存', icon: 'success' })
        wx.navigateBack({ delta: 1 })
      }).catch((err) => {
        const errors = L.fieldErrors(err && err.errors)
        if (err && err.error === 'space_code_taken' && !errors.code) errors.code = L.errorMessage(err)
        this.setData({ busy: false, errors, formError: L.errorMessage(err) })
      })
    }
  }
})
