const api = require('../../utils/api')
const config = require('../../config')
const { CATEGORIES, errorMessage } = require('../../utils/labels')

const PAGE_SIZE = 10

// Home: needs of my community, by category, endless scroll.
Component({
  data: {
    region: null,
    categories: CATEGORIES,
    category: '',
    items: [],
    nextCursor: null,
    state: 'loading',
    message: '',
    loadingMore: false,
    moreError: '',
    isDevelop: false,
    loggedIn: false
  },
  methods: {
    onLoad() {
      this.setData({ region: wx.getStorageSync('region') || null, isDevelop: config.isDevelop() })
      return this.load(true)
    },
    onShow() {
      this.setData({ loggedIn: api.isLoggedIn() })
      const region = wx.getStorageSync('region') || null
      const before = this.data.region ? this.data.region.id : null
      if ((region ? region.id : null) !== before) {
        this.setData({ region })
        return this.load(true)
      }
      return Promise.resolve()
    },
    query(cursor) {
      const q = { limit: PAGE_SIZE, category: this.data.category, cursor }
      if (this.data.region) q.region_id = this.data.region.id
      return q
    },
    load(reset) {
      const seq = (this._seq = (this._seq || 0) + 1)
      if (reset) this.setData({ state: this.data.items.length ? this.data.state : 'loading', moreError: '' })
      else this.setData({ loadingMore: true, moreError: '' })
      const cursor = reset ? null : this.data.nextCursor
      return api.get('/needs', this.query(cursor)).then((page) => {
        if (seq !== this._seq) return
        const got = (page && page.items) || []
        const items = reset ? got : this.data.items.concat(got)
        this.setData({
          items,
          nextCursor: (page && page.next_cursor) || null,
          state: items.length ? 'ready' : 'empty',
          message: items.length ? '' : '这里还没有公开的项目',
          loadingMore: false
        })
      }).catch((err) => {
        if (seq !== this._seq) return
        if (reset) this.setData({ state: 'error', message: errorMessage(err), loadingMore: false, items: [] })
        else this.setData({ loadingMore: false, moreError: errorMessage(err) })
      })
    },
    onRetry() {
      return this.load(true)
    },
    onPullDownRefresh() {
      return this.load(true).then(() => wx.stopPullDownRefresh())
    },
    onReachBottom() {
      if (!this.data.nextCursor || this.data.loadingMore) return Promise.resolve()
      return this.load(false)
    },
    onCategoryTap(e) {
      const category = e.currentTarget.dataset.value || ''
      if (category === this.data.category) return Promise.resolve()
      this.setData({ category, items: [], nextCursor: null })
      return this.load(true)
    },
    goRegions() {
      wx.navigateTo({ url: '/pages/regions/regions' })
    },
    goStats() {
      wx.navigateTo({ url: '/pages/stats/stats' })
    },
    goDevLogin() {
      wx.navigateTo({ url: '/pages/dev-login/dev-login' })
    },
    onShareAppMessage() {
      return { title: '邻善：身边的社区公益', path: '/pages/index/index' }
    }
  }
})
