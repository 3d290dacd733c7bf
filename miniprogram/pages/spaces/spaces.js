// 慈善空间: the spaces of one fund (GET /spaces in the fund's region, kept to the fund),
// each with what its codes brought in; new space, edit, posters and codes.
const api = require('../../utils/api.js')
const { yuan } = require('../../utils/money.js')
const L = require('../../components/sec-common/labels.js')

// GET /spaces pages read at most (100 spaces each) before giving up on the rest.
const MAX_PAGES = 10

function items(page) {
  return (page && Array.isArray(page.items)) ? page.items : []
}

// Every space of the region and below, page by page.
function regionSpaces(regionId) {
  const all = []
  const next = (cursor, round) => api.get('/spaces', { region_id: regionId, limit: 100, cursor })
    .then((page) => {
      items(page).forEach((s) => all.push(s))
      const more = page && page.next_cursor
      return more && round + 1 < MAX_PAGES ? next(more, round + 1) : { spaces: all, truncated: !!more }
    })
  return next(null, 0)
}

function spaceRow(space, detail) {
  const d = detail || {}
  const f = d.figures || null
  const rank = d.district_rank && d.district_rank.district ? d.district_rank : null
  return {
    code: space.code,
    name: space.name || '慈善空间',
    address: space.address || '',
    hours: space.opening_hours || '',
    region: (space.region && space.region.name) || '',
    photo: space.photo_url || '',
    hasFigures: !!f,
    raised: f ? yuan(f.raised_fen) : '',
    donations: f ? (f.donation_count || 0) : 0,
    donors: f ? (f.donor_count || 0) : 0,
    needCount: Array.isArray(d.needs) ? d.needs.length : 0,
    rank: rank ? rank.district.name + '第 ' + rank.rank + ' / ' + rank.of + ' 名' : '',
    figuresError: detail ? '' : '暂时无法读取筹款数据'
  }
}

Component({
  data: {
    state: 'loading',
    message: '',
    fundId: null,
    fundName: '',
    regionName: '',
    spaces: [],
    truncated: false
  },

  methods: {
    onLoad(query) {
      query = query || {}
      this.shown = false
      const fundId = L.idParam(query.fund_id)
      this.setData({ fundId })
      if (!fundId) {
        this.setData({ state: 'error', message: '缺少基金信息，请从工作台进入' })
        return Promise.resolve()
      }
      return this.load()
    },

    onShow() {
      // Back from creating or editing a space: show the change.
      const reload = this.shown && this.data.fundId ? this.load() : Promise.resolve()
      this.shown = true
      return reload
    },

    onPullDownRefresh() {
      return this.load().then(() => wx.stopPullDownRefresh())
    },

    onRetry() {
      return this.load()
    },

    load() {
      const fundId = this.data.fundId
      if (!fundId) return Promise.resolve()
      const seq = (this.seq = (this.seq || 0) + 1)
      this.setData({ state: 'loading', message: '' })
      return api.get('/funds/' + fundId).then((fund) => {
        const regionId = fund && fund.region && fund.region.id
        return regionSpaces(regionId).then(({ spaces, truncated }) => {
          const mine = spaces.filter((s) => s && s.code && s.fund && s.fund.id === fundId)
          // The list has no figures: each space's detail has them (a failure shows on its row).
          return Promise.all(mine.map((s) => api.get('/spaces/' + encodeURIComponent(s.code)).catch(() => null)))
            .then((details) => ({
              fundName: (fund && fund.name) || '社区基金 #' + fundId,
              regionName: (fund && fund.region && fund.region.name) || '',
              spaces: mine.map((s, i) => spaceRow(s, details[i])),
              truncated
            }))
        })
      }).then((result) => {
        if (seq !== this.seq) return
        this.setData(Object.assign({ state: 'ready' }, result))
      }).catch((err) => {
        if (seq !== this.seq) return
        this.setData({ state: 'error', message: L.errorMessage(err) })
      })
    },

    onNew() {
      wx.navigateTo({ url: '/pages/space-edit/space-edit?fund_id=' + this.data.fundId })
    },

    onEdit(e) {
      const code = e.currentTarget.dataset.code
      if (code) wx.navigateTo({ url: '/pages/space-edit/space-edit?fund_id=' + this.data.fundId + '&code=' + encodeURIComponent(code) })
    },

    onPoster(e) {
      const code = e.currentTarget.dataset.code
      if (code) wx.navigateTo({ url: '/pages/space-poster/space-poster?code=' + encodeURIComponent(code) })
    },

    onOpen(e) {
      const code = e.currentTarget.dataset.code
      if (code) wx.navigateTo({ url: '/pages/space/space?code=' + encodeURIComponent(code) })
    }
  }
})
