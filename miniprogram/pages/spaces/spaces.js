// 慈善空间: the spaces of one fund (GET /spaces?fund_id=, more on reaching the bottom),
// each with what its codes brought in; new space, edit, posters and codes.
const api = require('../../utils/api.js')
const { yuan } = require('../../utils/money.js')
const L = require('../../components/sec-common/labels.js')
const pagedList = require('../../behaviors/paged-list.js')

// Spaces per page of GET /spaces?fund_id= (each row also reads its space's detail).
const PAGE_SIZE = 10

function items(page) {
  return (page && Array.isArray(page.items)) ? page.items : []
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
  // Back from creating or editing a space the list reloads to show the change.
  behaviors: [pagedList({ param: 'fund_id', key: 'fundId', missing: '缺少基金信息，请从工作台进入' })],

  data: {
    state: 'loading',
    message: '',
    fundName: '',
    regionName: '',
    spaces: []
  },

  methods: {
    load() {
      const fundId = this.data.fundId
      if (!fundId) return Promise.resolve()
      const seq = (this.seq = (this.seq || 0) + 1)
      this.setData({ state: 'loading', message: '', moreError: '' })
      return Promise.all([api.get('/funds/' + fundId), this.readPage(null)]).then(([fund, got]) => {
        if (seq !== this.seq) return
        this.setData({
          state: 'ready',
          fundName: (fund && fund.name) || '社区基金 #' + fundId,
          regionName: (fund && fund.region && fund.region.name) || '',
          spaces: got.rows,
          nextCursor: got.next,
          loadingMore: false
        })
      }).catch((err) => {
        if (seq !== this.seq) return
        this.setData({ state: 'error', message: L.errorMessage(err) })
      })
    },

    // One page of the fund's spaces as rows. The list has no figures: each space's detail
    // has them (a failure shows on its row).
    readPage(cursor) {
      return api.get('/spaces', { fund_id: this.data.fundId, limit: PAGE_SIZE, cursor }).then((page) => {
        const spaces = items(page).filter((s) => s && s.code)
        return Promise.all(spaces.map((s) => api.get('/spaces/' + encodeURIComponent(s.code)).catch(() => null)))
          .then((details) => ({ rows: spaces.map((s, i) => spaceRow(s, details[i])), next: (page && page.next_cursor) || null }))
      })
    },

    // The next page, without spaces already listed.
    readMore(cursor) {
      return this.readPage(cursor).then((got) => {
        const seen = {}
        this.data.spaces.forEach((r) => { seen[r.code] = true })
        return { spaces: this.data.spaces.concat(got.rows.filter((r) => !seen[r.code])), nextCursor: got.next }
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
