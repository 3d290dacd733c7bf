const { mount, text, fire } = require('../shim/load')

describe('state-view', () => {
  test('loading, empty, error and ready states', async () => {
    const c = mount('components/state-view/state-view', { state: 'loading' })
    expect(text(c, '#loading')).toBe('加载中…')
    c.setData({ state: 'empty', message: '暂无项目' })
    expect(c.querySelector('#loading')).toBeUndefined()
    expect(text(c, '#empty')).toBe('暂无项目')
    c.setData({ state: 'error', message: '网络连接失败，请检查网络后重试', retryText: '再试一次' })
    expect(text(c, '#error')).toContain('网络连接失败')
    expect(text(c, '#retry')).toBe('再试一次')
    c.setData({ state: 'ready' })
    expect(c.querySelector('#error')).toBeUndefined()
    expect(c.querySelector('#empty')).toBeUndefined()
  })

  test('the retry button triggers retry', async () => {
    const c = mount('components/state-view/state-view', { state: 'error' })
    const onRetry = jest.fn()
    c.addEventListener('retry', onRetry)
    await fire(c, '#retry', 'tap')
    expect(onRetry).toHaveBeenCalledTimes(1)
  })
})
