const api = require('../../utils/api')
const { errorMessage } = require('../../utils/labels')

const LEVEL_NAMES = { city: '市', district: '区', street: '街道', community: '社区' }

// Region picker: city → district → street → community; the choice is stored as `region`.
Component({
  data: { state: 'loading', message: '', path: [], list: [], current: null, levelName: '' },
  methods: {
    onLoad() {
      this._roots = []
      return this.load()
    },
    load() {
      this.setData({ state: 'loading' })
      return api.get('/regions').then((roots) => {
        this._roots = Array.isArray(roots) ? roots : []
        this.show([])
      }).catch((err) => this.setData({ state: 'error', message: errorMessage(err) }))
    },
    show(path) {
      const last = path[path.length - 1]
      const list = ((last ? last.children : this._roots) || []).map((r) => ({
        id: r.id, name: r.name, level: r.level, hasChildren: !!(r.children && r.children.length)
      }))
      this.setData({
        path: path.map((r) => ({ id: r.id, name: r.name })),
        list,
        current: last ? { id: last.id, name: last.name, levelName: LEVEL_NAMES[last.level] || '' } : null,
        state: list.length || last ? 'ready' : 'empty',
        message: list.length || last ? '' : '暂无可选地区'
      })
      this._path = path
    },
    onItemTap(e) {
      const index = e.currentTarget.dataset.index
      const parent = this._path[this._path.length - 1]
      const node = ((parent ? parent.children : this._roots) || [])[index]
      if (!node) return
      if (node.children && node.children.length && node.level !== 'community') this.show(this._path.concat([node]))
      else this.choose(node)
    },
    onCrumbTap(e) {
      this.show(this._path.slice(0, Number(e.currentTarget.dataset.depth)))
    },
    onChooseCurrent() {
      const last = this._path[this._path.length - 1]
      if (last) this.choose(last)
    },
    choose(node) {
      wx.setStorageSync('region', { id: node.id, name: node.name, level: node.level })
      wx.showToast({ title: '已选择' + node.name, icon: 'none' })
      const pages = typeof getCurrentPages === 'function' ? getCurrentPages() : []
      if (pages.length > 1) wx.navigateBack()
      else wx.switchTab({ url: '/pages/index/index' })
    }
  }
})
