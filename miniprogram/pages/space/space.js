const api = require('../../utils/api')
const { errorMessage } = require('../../utils/labels')
const { yuan } = require('../../utils/money')

// scene "s=<code>&n=<need id>" (URL-encoded by WeChat) -> { code, needId }
function parseScene(scene) {
  const out = {}
  decodeURIComponent(scene || '').split('&').forEach((pair) => {
    const i = pair.indexOf('=')
    if (i > 0) out[pair.slice(0, i)] = pair.slice(i + 1)
  })
  return { code: out.s || '', needId: out.n ? Number(out.n) || null : null }
}

// A charity space, opened from its mini-program code.
Component({
  data: { state: 'loading', message: '', space: null, needs: [], focus: null, code: '', figures: null, rank: null },
  methods: {
    onLoad(options) {
      options = options || {}
      const parsed = options.scene ? parseScene(options.scene) : { code: options.code || '', needId: Number(options.n) || null }
      this._needId = parsed.needId
      this.setData({ code: parsed.code })
      if (!parsed.code) {
        this.setData({ state: 'error', message: '二维码无效，请重新扫码' })
        return Promise.resolve()
      }
      return this.load()
    },
    load() {
      this.setData({ state: 'loading' })
      return api.get('/spaces/' + encodeURIComponent(this.data.code)).then((s) => {
        s = s || {}
        const needs = s.needs || []
        const focus = this._needId ? needs.find((n) => n.id === this._needId) || null : null
        this.setData({
          state: 'ready',
          space: {
            name: s.name || '慈善空间', address: s.address || '', hours: s.opening_hours || '',
            description: s.description || '', regionName: (s.region && s.region.name) || '',
            fundName: (s.fund && s.fund.name) || '', fundId: (s.fund && s.fund.id) || null,
            photo: s.photo_url || ''
          },
          figures: s.figures ? {
            raised: yuan(s.figures.raised_fen), donations: s.figures.donation_count || 0,
            donors: s.figures.donor_count || 0
          } : null,
          rank: s.district_rank && s.district_rank.district ? {
            district: s.district_rank.district.name, rank: s.district_rank.rank, of: s.district_rank.of
          } : null,
          needs: focus ? needs.filter((n) => n !== focus) : needs,
          focus
        })
        if (s.name && wx.setNavigationBarTitle) wx.setNavigationBarTitle({ title: s.name })
      }).catch((err) => this.setData({ state: 'error', message: errorMessage(err) }))
    },
    onDonateNeed(e) {
      const id = e.currentTarget.dataset.id
      wx.navigateTo({ url: '/pages/donate/donate?need_id=' + id + '&space_code=' + encodeURIComponent(this.data.code) })
    },
    onDonateFund() {
      const fundId = this.data.space && this.data.space.fundId
      if (!fundId) return
      wx.navigateTo({ url: '/pages/donate/donate?fund_id=' + fundId + '&space_code=' + encodeURIComponent(this.data.code) })
    },
    onShareAppMessage() {
      return { title: (this.data.space && this.data.space.name) || '慈善空间', path: '/pages/space/space?code=' + encodeURIComponent(this.data.code) }
    }
  }
})
