const api = require('../../utils/api')
const { yuan } = require('../../utils/money')
const { METRICS, NEED_STATUS, errorMessage } = require('../../utils/labels')

function metricValue(metric, value) {
  return /_fen$/.test(metric) ? yuan(value || 0) : String(value || 0)
}

// Statistics of my region: totals and progress toward this year's targets.
Component({
  data: { state: 'loading', message: '', regionName: '', figures: [], statuses: [], targets: [] },
  methods: {
    onLoad(query) {
      const stored = wx.getStorageSync('region') || null
      this._regionId = (query && query.region_id) || (stored && stored.id) || null
      this.setData({ regionName: stored && !(query && query.region_id) ? stored.name : '' })
      return this.load()
    },
    load() {
      this.setData({ state: 'loading' })
      return api.get('/stats', { region_id: this._regionId }).then((s) => {
        s = s || {}
        const figures = [
          { key: 'raised', label: '累计筹款', value: yuan(s.raised_fen || 0) },
          { key: 'spent', label: '累计支出', value: yuan(s.spent_fen || 0) },
          { key: 'donations', label: '捐赠人次', value: String(s.donation_count || 0) },
          { key: 'beneficiaries', label: '受益人数', value: String(s.beneficiary_count || 0) },
          { key: 'funds', label: '社区基金', value: String(s.fund_count || 0) },
          { key: 'needs', label: '公益项目', value: String(s.need_count || 0) },
          { key: 'spaces', label: '慈善空间', value: String(s.space_count || 0) }
        ]
        const byStatus = s.needs_by_status || {}
        const statuses = Object.keys(byStatus).map((k) => ({ key: k, label: NEED_STATUS[k] || k, count: byStatus[k] }))
        const targets = (s.targets || []).map((t) => ({
          metric: t.metric,
          label: (METRICS[t.metric] || t.metric) + (t.year ? '（' + t.year + '年）' : ''),
          actualText: metricValue(t.metric, t.actual),
          targetText: metricValue(t.metric, t.target),
          percent: t.percent || 0,
          width: Math.max(0, Math.min(100, t.percent || 0))
        }))
        this.setData({
          state: 'ready',
          regionName: (s.region && s.region.name) || this.data.regionName || '全平台',
          figures, statuses, targets
        })
      }).catch((err) => this.setData({ state: 'error', message: errorMessage(err) }))
    },
    onPullDownRefresh() {
      return this.load().then(() => wx.stopPullDownRefresh())
    },
    onShareAppMessage() {
      return { title: this.data.regionName + '公益数据', path: '/pages/stats/stats' + (this._regionId ? '?region_id=' + this._regionId : '') }
    }
  }
})
