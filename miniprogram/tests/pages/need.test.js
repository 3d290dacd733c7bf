const shim = require('../shim/wx')
const { mount, fire, flush } = require('../shim/load')

const detail = {
  id: 7, title: '老人助餐', category: 'elderly', category_label: '助老', status: 'fundraising', goal_fen: 100000, raised_fen: 20000,
  percent: 20, donation_count: 4, story: '社区有 30 位独居老人需要午餐。', budget_lines: [{ item: '餐费', amount_fen: 100000 }],
  foundation_name: '市慈善基金会', filing_number: '53100000XX', images: ['https://x/1.jpg'],
  disclosure: { state: 'overdue', next_due: '2024-05-01' }, disclosure_overdue: true,
  updates: [{ id: 1, kind: 'progress', text: '第一批午餐已送达', created_at: '2024-04-01T12:00:00+08:00', images: [{ url: 'https://x/u1.jpg', thumbnail_url: 'https://x/u1_t.jpg' }] }]
}
const ledger = {
  income: { items: [{ id: 1, donor: '张**', amount_fen: 5000, message: '加油', paid_at: '2024-04-02T08:00:00+08:00' }], next_cursor: 'i2' },
  expenses: [{ id: 3, purpose: '购买餐盒', payee: '某餐饮公司', amount_fen: 8000, disbursed_at: '2024-04-03T10:00:00+08:00', voucher_no: 'V1',
    evidence: [{ stage: 'evidence', url: 'https://x/e1.jpg', thumbnail_url: 'https://x/e1_t.jpg', content_type: 'image/jpeg' },
      { stage: 'disbursement', url: 'https://x/e2.pdf', thumbnail_url: null, content_type: 'application/pdf' }] }],
  balance_fen: 12000, income_fen: 20000, spent_fen: 8000
}

function serve(overrides = {}) {
  shim.routes(Object.assign({
    'GET /needs/7': { statusCode: 200, data: detail },
    'GET /needs/7/ledger': (d, q) => ({ statusCode: 200, data: q.cursor ? { income: { items: [{ id: 2, donor: '爱心人士', amount_fen: 100 }], next_cursor: null }, expenses: [] } : ledger }),
    'GET /needs/7/progress': { statusCode: 200, data: { need_id: 7, goal_fen: 100000, raised_fen: 30000, donation_count: 5, percent: 30 } }
  }, overrides))
}

const count = (path) => shim.requests.filter((r) => r.path === '/api/v1' + path).length

describe('pages/need', () => {
  afterEach(() => jest.useRealTimers())

  test('renders story, budget, progress, disclosure (overdue), foundation, updates and ledger', async () => {
    serve()
    const page = mount('pages/need/need')
    await page.instance.onLoad({ id: '7' })
    const t = page.dom.textContent
    expect(t).toContain('老人助餐')
    expect(t).toContain('社区有 30 位独居老人需要午餐。')
    expect(t).toContain('餐费¥1,000.00')
    expect(page.querySelector('#progress').dom.textContent).toContain('已筹 ¥200.00 / 目标 ¥1,000.00')
    expect(page.querySelector('#overdue').dom.textContent).toContain('信息公开逾期')
    expect(t).toContain('募捐主体：市慈善基金会')
    expect(t).toContain('公开募捐备案编号：53100000XX')
    expect(t).toContain('第一批午餐已送达')
    expect(t).toContain('收入 ¥200.00 · 支出 ¥80.00 · 结余 ¥120.00')
    expect(t).toContain('张**')
    page.instance.onUnload()
  })

  test('tabs switch to expenses; evidence opens previewImage, PDFs copy the link', async () => {
    serve()
    const page = mount('pages/need/need')
    await page.instance.onLoad({ id: '7' })
    await fire(page, '#tab-expenses')
    expect(page.dom.textContent).toContain('购买餐盒')
    const ev = page.querySelectorAll('.evidence')
    expect(ev).toHaveLength(2)
    await fire(page, ev[0])
    expect(wx.previewImage).toHaveBeenCalledWith({ current: 'https://x/e1.jpg', urls: ['https://x/e1.jpg'] })
    await fire(page, ev[1])
    expect(wx.setClipboardData).toHaveBeenCalledWith({ data: 'https://x/e2.pdf' })
    await fire(page, '.photo')
    expect(wx.previewImage).toHaveBeenLastCalledWith({ current: 'https://x/u1.jpg', urls: ['https://x/u1.jpg'] })
    page.instance.onUnload()
  })

  test('polls progress while visible and stops on hide and unload', async () => {
    jest.useFakeTimers()
    serve()
    const page = mount('pages/need/need')
    await page.instance.onLoad({ id: '7' })
    await flush()
    page.instance.onShow()
    jest.advanceTimersByTime(5000)
    await flush()
    expect(count('/needs/7/progress')).toBe(1)
    expect(page.querySelector('#progress').dom.textContent).toContain('已筹 ¥300.00')
    page.instance.onHide()
    jest.advanceTimersByTime(20000)
    await flush()
    expect(count('/needs/7/progress')).toBe(1)
    page.instance.onShow()
    jest.advanceTimersByTime(5000)
    await flush()
    expect(count('/needs/7/progress')).toBe(2)
    page.instance.onUnload()
    jest.advanceTimersByTime(20000)
    await flush()
    expect(count('/needs/7/progress')).toBe(2)
  })

  test('income loads more on reaching the bottom', async () => {
    serve()
    const page = mount('pages/need/need')
    await page.instance.onLoad({ id: '7' })
    await page.instance.onReachBottom()
    expect(shim.requests.find((r) => r.query.cursor === 'i2')).toBeTruthy()
    expect(page.dom.textContent).toContain('爱心人士')
    page.instance.onUnload()
  })

  test('donate button carries the space code; share returns the need path', async () => {
    serve()
    const page = mount('pages/need/need')
    await page.instance.onLoad({ id: '7', space_code: 'SP1' })
    await fire(page, '#donate')
    expect(wx.navigateTo).toHaveBeenCalledWith({ url: '/pages/donate/donate?need_id=7&space_code=SP1' })
    expect(page.instance.onShareAppMessage()).toEqual({ title: '老人助餐', path: '/pages/need/need?id=7' })
    expect(page.instance.onShareTimeline()).toEqual({ title: '老人助餐', query: 'id=7' })
    page.instance.onUnload()
  })

  test('a closed need with missing fields renders without a donate button', async () => {
    serve({ 'GET /needs/7': { statusCode: 200, data: { id: 7, title: '已结束', status: 'closed' } }, 'GET /needs/7/ledger': { statusCode: 200, data: {} } })
    const page = mount('pages/need/need')
    await page.instance.onLoad({ id: '7' })
    expect(page.querySelector('#donate')).toBeUndefined()
    expect(page.querySelector('#not-open').dom.textContent).toContain('已关闭')
    expect(page.dom.textContent).toContain('暂无进展')
    expect(page.dom.textContent).toContain('暂无捐赠')
    page.instance.onUnload()
  })

  test('a 404 shows the API message; no polling starts', async () => {
    jest.useFakeTimers()
    serve({ 'GET /needs/7': shim.apiError(404, 'not_found', '项目不存在或未公开') })
    const page = mount('pages/need/need')
    await page.instance.onLoad({ id: '7' })
    await flush()
    page.instance.onShow()
    expect(page.data.state).toBe('error')
    expect(page.dom.textContent).toContain('项目不存在或未公开')
    jest.advanceTimersByTime(20000)
    await flush()
    expect(count('/needs/7/progress')).toBe(0)
  })

  test('a ledger failure shows its own retry', async () => {
    let fail = true
    serve({ 'GET /needs/7/ledger': () => (fail ? { fail: true } : { statusCode: 200, data: ledger }) })
    const page = mount('pages/need/need')
    await page.instance.onLoad({ id: '7' })
    expect(page.data.ledgerState).toBe('error')
    fail = false
    await fire(page.querySelector('#ledger-sv'), '#retry')
    await flush()
    expect(page.data.ledgerState).toBe('ready')
    page.instance.onUnload()
  })
})
