// A list page opened with an id in its query (e.g. ?need_id=3), with cursor paging:
//   behaviors: [pagedList({ param: 'need_id', key: 'needId', missing: '缺少项目信息，请从工作台进入' })]
// It reads the id into data[key] (or shows `missing`), loads, reloads when the user comes
// back to the page, refreshes on pull-down and loads more on reaching the bottom.
// The page provides:
//   load()             the first page; sets nextCursor; bumps this.seq to drop stale answers
//   readMore(cursor)   a promise of the setData patch with the next rows and nextCursor
const L = require('../components/sec-common/labels.js')
const { loadWithId } = require('../utils/page.js')

module.exports = function pagedList({ param, key, missing }) {
  return Behavior({
    data: {
      [key]: null,
      nextCursor: null,
      loadingMore: false,
      moreError: ''
    },

    methods: {
      onLoad(query) {
        this.shown = false
        const id = L.idParam((query || {})[param])
        this.setData({ [key]: id })
        return loadWithId(this, id, missing)
      },

      // Back from another page (an edit, a refund, a post): the list may have changed.
      onShow() {
        const reload = this.shown && this.data[key] ? this.load() : Promise.resolve()
        this.shown = true
        return reload
      },

      onRetry() {
        return this.load()
      },

      onPullDownRefresh() {
        return this.load().then(() => wx.stopPullDownRefresh())
      },

      onMore() {
        if (this.data.state !== 'ready' || this.data.loadingMore || !this.data.nextCursor) return Promise.resolve()
        const seq = this.seq
        this.setData({ loadingMore: true, moreError: '' })
        return this.readMore(this.data.nextCursor).then((patch) => {
          if (seq !== this.seq) return
          this.setData(Object.assign({ loadingMore: false }, patch))
        }, (err) => {
          if (seq !== this.seq) return
          this.setData({ loadingMore: false, moreError: L.errorMessage(err) })
        })
      },

      onReachBottom() {
        return this.onMore()
      }
    }
  })
}
