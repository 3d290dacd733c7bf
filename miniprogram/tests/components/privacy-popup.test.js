const { mount, text, fire } = require('../shim/load')

describe('privacy-popup', () => {
  beforeEach(() => { global.__app = { globalData: { privacyListeners: [] } } })

  test('opens on a privacy request and resolves agree', async () => {
    const c = mount('components/privacy-popup/privacy-popup')
    expect(c.querySelector('#popup')).toBeUndefined()
    const resolve = jest.fn()
    getApp().globalData.privacyListeners[0](resolve, { referrer: 'wx.chooseMedia' })
    expect(c.querySelector('#popup')).toBeDefined()
    await fire(c, '#agree-btn', 'agreeprivacyauthorization')
    expect(resolve).toHaveBeenCalledWith({ buttonId: 'agree-btn', event: 'agree' })
    expect(c.querySelector('#popup')).toBeUndefined()
  })

  test('disagree resolves disagree; detaching unregisters', async () => {
    const c = mount('components/privacy-popup/privacy-popup')
    const resolve = jest.fn()
    getApp().globalData.privacyListeners[0](resolve)
    await fire(c, '#disagree', 'tap')
    expect(resolve).toHaveBeenCalledWith({ event: 'disagree' })
    c.detach()
    expect(getApp().globalData.privacyListeners).toHaveLength(0)
  })
})
