// Photo picker for the secretary pages: wx.chooseMedia, then POST /uploads for each
// photo; tells the page the upload ids in order ("change": {ids, uploading, failed}).
const api = require('../../utils/api.js')
const { errorMessage } = require('../sec-common/labels.js')

let nextKey = 1

Component({
  properties: {
    // at most this many photos (the API takes 9)
    max: { type: Number, value: 9 },
    // photos already attached: [{id, url, thumbnail_url}]
    initial: { type: Array, value: [] },
    disabled: { type: Boolean, value: false },
    label: { type: String, value: '照片' },
    error: { type: String, value: '' }
  },

  data: {
    items: [],
    canAdd: true,
    message: ''
  },

  observers: {
    initial(list) {
      // The page's saved photos replace ours only until the user changes them.
      if (this.touched) return
      const items = (Array.isArray(list) ? list : [])
        .filter((p) => p && p.id)
        .map((p) => ({
          key: 'k' + nextKey++,
          id: p.id,
          url: p.url || p.thumbnail_url || '',
          thumb: p.thumbnail_url || p.url || '',
          status: 'done',
          message: ''
        }))
      this.setItems(items, false)
    },
    'max, disabled'() {
      this.setItems(this.data.items, false)
    }
  },

  methods: {
    setItems(items, notify) {
      this.setData({
        items,
        canAdd: !this.data.disabled && items.length < this.data.max
      })
      if (notify) this.notify()
    },

    notify() {
      const items = this.data.items
      this.triggerEvent('change', {
        ids: items.filter((i) => i.status === 'done' && i.id).map((i) => i.id),
        uploading: items.filter((i) => i.status === 'uploading').length,
        failed: items.filter((i) => i.status === 'error').length
      })
    },

    onAdd() {
      const room = this.data.max - this.data.items.length
      if (this.data.disabled || room <= 0) return
      wx.chooseMedia({
        count: room,
        mediaType: ['image'],
        sourceType: ['album', 'camera'],
        sizeType: ['compressed'],
        success: (res) => {
          const files = ((res && res.tempFiles) || []).slice(0, room)
          this.addFiles(files.map((f) => f.tempFilePath).filter(Boolean))
        },
        fail: () => { /* the user cancelled */ }
      })
    },

    addFiles(paths) {
      if (!paths.length) return
      this.touched = true
      const added = paths.map((path) => ({
        key: 'k' + nextKey++, id: null, path, url: path, thumb: path, status: 'uploading', message: ''
      }))
      this.setItems(this.data.items.concat(added), true)
      return Promise.all(added.map((item) => this.uploadOne(item.key)))
    },

    uploadOne(key) {
      const item = this.data.items.find((i) => i.key === key)
      if (!item) return Promise.resolve()
      this.patchItem(key, { status: 'uploading', message: '' })
      return api.upload(item.path).then((up) => {
        if (!up || !up.id) throw new Error('上传失败，请重试')
        this.patchItem(key, {
          id: up.id,
          url: up.url || item.path,
          thumb: up.thumbnail_url || up.url || item.path,
          status: 'done'
        })
      }).catch((err) => {
        this.patchItem(key, { status: 'error', message: errorMessage(err) })
      }).then(() => this.notify())
    },

    patchItem(key, changes) {
      const items = this.data.items.map((i) => (i.key === key ? Object.assign({}, i, changes) : i))
      this.setItems(items, false)
    },

    onRetry(e) {
      this.uploadOne(e.currentTarget.dataset.key)
    },

    onRemove(e) {
      if (this.data.disabled) return
      this.touched = true
      const key = e.currentTarget.dataset.key
      this.setItems(this.data.items.filter((i) => i.key !== key), true)
    },

    onPreview(e) {
      const urls = this.data.items.filter((i) => i.status === 'done').map((i) => i.url)
      const current = e.currentTarget.dataset.url
      if (!urls.length) return
      wx.previewImage({ urls, current: urls.indexOf(current) >= 0 ? current : urls[0] })
    }
  }
})
