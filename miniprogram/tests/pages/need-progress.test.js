// pages/need: live progress marked stale, and polling that never breaks the page.
const shim = require('../shim/wx')
const { mount, flush } = require('../shim/load')

const detail = { id: 7, title: '老人助餐', status: 'fundraising', goal_fen: 100000, raised_fen: 20000, percent: 20, donation_count: 4 }
const ledger = { income: { items: [], next_cursor: null }, expenses: [], balance_fen: 0 }
const progress = (extra) => ({ statusCode: 200, data: Object.assign({ need_id: 7, goal_fen: 100000, raised_fen: 30000, donation_count: 5, percent: 30, stale: false }, extra) })

async function open(progressAnswer) {
  jest.useFakeTimers()
  shim.routes({
    'GET /needs/7': { statusCode: 200, data: detail },
    'GET /needs/7/ledger': { statusCode: 200, data: ledger },
    'GET /needs/7/progress': () => progressAnswer()
  })
  const page = mount('pages/need/need')
  await page.instance.onLoad({ id: '7' })
  await flush()
  return page
}

async function tick() {
  jest.advanceTimersByTime(5000)
  await flush()
}

const bar = (page) => page.querySelector('#progress').dom.textContent

describe('pages/need progress', () => {
  afterEach(() => jest.useRealTimers())

  test('a stale answer shows 数据同步中 with its figures; a fresh one hides the note', async () => {
    let answer = progress({ stale: true, raised_fen: 25000 })
    const page = await open(() => answer)
    expect(page.querySelector('#stale')).toBeUndefined()
    await tick()
    expect(page.querySelector('#stale').dom.textContent).toContain('数据同步中')
    expect(bar(page)).toContain('已筹 ¥250.00')
    answer = progress()
    await tick()
    expect(page.querySelector('#stale')).toBeUndefined()
    expect(bar(page)).toContain('已筹 ¥300.00')
    page.instance.onUnload()
  })

  test('failures keep the last figures and the page; polling goes on and recovers', async () => {
    let mode = 'ok'
    const answers = {
      ok: () => progress(),
      network: () => ({ fail: true }),
      server: () => shim.apiError(503, 'unavailable', '服务暂时不可用'),
      garbage: () => ({ statusCode: 200, data: '<html>' }),
      partial: () => ({ statusCode: 200, data: { need_id: 7, raised_fen: null, percent: 'x', stale: true } }),
      later: () => progress({ raised_fen: 40000, percent: 40, donation_count: 6 })
    }
    const page = await open(() => answers[mode]())
    await tick()
    expect(bar(page)).toContain('已筹 ¥300.00')
    for (mode of ['network', 'server', 'garbage']) {
      await tick()
      expect(page.data.state).toBe('ready')
      expect(bar(page)).toContain('已筹 ¥300.00 / 目标 ¥1,000.00')
      expect(page.data.progress).toEqual({ raised_fen: 30000, goal_fen: 100000, percent: 30, donation_count: 5 })
    }
    expect(wx.showToast).not.toHaveBeenCalled()
    mode = 'partial'
    await tick()
    expect(bar(page)).toContain('已筹 ¥300.00')
    expect(page.data.progress.percent).toBe(30)
    expect(page.querySelector('#stale')).toBeDefined()
    mode = 'later'
    await tick()
    expect(bar(page)).toContain('已筹 ¥400.00')
    expect(page.querySelector('#stale')).toBeUndefined()
    const calls = shim.requests.filter((r) => r.path === '/api/v1/needs/7/progress').length
    // the network failure is retried once by the client; every tick polled
    expect(calls).toBe(7)
    page.instance.onUnload()
  })
})
