// behaviors/paged-list, form-errors and the helpers in utils/page and utils/idempotency,
// on a small test component (the pages using them have their own tests).
const { simulate, flush } = require('../shim/load')
const pagedList = require('../../behaviors/paged-list')
const formErrors = require('../../behaviors/form-errors')
const { confirmModal } = require('../../utils/page')
const { keyFor, resetKey } = require('../../utils/idempotency')

function deferred() {
  let resolve, reject
  const promise = new Promise((res, rej) => { resolve = res; reject = rej })
  return { promise, resolve, reject }
}

// A list of numbers; load() and readMore() answer from the test.
function mountList() {
  const calls = { load: 0, more: [] }
  const id = simulate.load({
    template: '<view>{{items.length}}</view>',
    behaviors: [pagedList({ param: 'thing_id', key: 'thingId', missing: '缺少信息' })],
    data: { state: 'loading', message: '', items: [] },
    methods: {
      load() {
        calls.load += 1
        this.seq = (this.seq || 0) + 1
        this.setData({ state: 'ready', items: [1, 2], nextCursor: 'c1' })
        return Promise.resolve()
      },
      readMore(cursor) {
        const d = deferred()
        calls.more.push({ cursor, d })
        return d.promise
      }
    }
  })
  const comp = simulate.render(id)
  comp.attach(document.createElement('parent-wrapper'))
  return { comp, page: comp.instance, calls }
}

describe('behaviors/paged-list', () => {
  test('without the id: the error state and no load', async () => {
    const { page, calls } = mountList()
    await page.onLoad({})
    expect(page.data.state).toBe('error')
    expect(page.data.message).toBe('缺少信息')
    expect(page.data.thingId).toBe(null)
    await page.onShow()
    await page.onShow()
    expect(calls.load).toBe(0)
  })

  test('loads on open, reloads when shown again, on retry and on pull-down', async () => {
    const { page, calls } = mountList()
    await page.onLoad({ thing_id: '7' })
    expect(page.data.thingId).toBe(7)
    await page.onShow() // the first show right after onLoad does not reload
    expect(calls.load).toBe(1)
    await page.onShow()
    expect(calls.load).toBe(2)
    await page.onRetry()
    await page.onPullDownRefresh()
    expect(calls.load).toBe(4)
    expect(wx.stopPullDownRefresh).toHaveBeenCalled()
  })

  test('more: one request at a time, patch applied; an error is shown and can be retried', async () => {
    const { page, calls } = mountList()
    await page.onLoad({ thing_id: '7' })
    const first = page.onReachBottom()
    page.onMore() // already loading: ignored
    expect(calls.more.map((c) => c.cursor)).toEqual(['c1'])
    expect(page.data.loadingMore).toBe(true)
    calls.more[0].d.reject({ status: 0 })
    await first
    expect(page.data.loadingMore).toBe(false)
    expect(page.data.moreError).not.toBe('')
    const again = page.onMore()
    calls.more[1].d.resolve({ items: [1, 2, 3], nextCursor: null })
    await again
    expect(page.data).toMatchObject({ items: [1, 2, 3], nextCursor: null, loadingMore: false, moreError: '' })
    await page.onMore() // no cursor left
    expect(calls.more).toHaveLength(2)
  })

  test('an answer for a list that has been reloaded since is dropped', async () => {
    const { page, calls } = mountList()
    await page.onLoad({ thing_id: '7' })
    const more = page.onMore()
    await page.onRetry()
    calls.more[0].d.resolve({ items: [9] })
    await more
    expect(page.data.items).toEqual([1, 2])
  })
})

describe('behaviors/form-errors', () => {
  test('clearError removes one field error and leaves the others', () => {
    const id = simulate.load({ template: '<view></view>', behaviors: [formErrors] })
    const comp = simulate.render(id)
    const page = comp.instance
    page.setData({ errors: { a: 'A', b: 'B' } })
    page.clearError('a')
    page.clearError('missing')
    page.clearError(undefined)
    expect(page.data.errors).toEqual({ b: 'B' })
  })
})

describe('utils/page confirmModal', () => {
  test('resolves with the dialog result, or not confirmed when it cannot show', async () => {
    wx.showModal.mockImplementationOnce((o) => o.success({ confirm: true }))
    await expect(confirmModal({ title: 't' })).resolves.toEqual({ confirm: true })
    wx.showModal.mockImplementationOnce((o) => o.fail({ errMsg: 'showModal:fail' }))
    await expect(confirmModal({ title: 't' })).resolves.toEqual({ confirm: false })
    await flush()
  })
})

describe('utils/idempotency', () => {
  test('the same body keeps its key; a new body or a reset gets a new one', () => {
    const page = {}
    const k1 = keyFor(page, { a: 1 })
    expect(keyFor(page, { a: 1 })).toBe(k1)
    const k2 = keyFor(page, { a: 2 })
    expect(k2).not.toBe(k1)
    resetKey(page)
    expect(keyFor(page, { a: 2 })).not.toBe(k2)
  })
})
