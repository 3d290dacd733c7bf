const shim = require('../shim/wx')

function loadApp() {
  let def
  global.App = (d) => { def = d }
  jest.isolateModules(() => require('../../app.js'))
  const app = Object.assign({}, def, { globalData: Object.assign({}, def.globalData, { privacyListeners: [] }) })
  return app
}

describe('app.js and config.js', () => {
  test('onLaunch logs in (release) and registers the privacy handler', async () => {
    shim.setEnv('release')
    shim.routes({ 'POST /auth/wechat-login': { statusCode: 200, data: { token: 'T', user: { id: 1 } } } })
    require('../../utils/api').configure({ baseUrl: 'http://api.test' })
    const app = loadApp()
    app.onLaunch()
    await shim.flush()
    expect(wx.login).toHaveBeenCalled()
    expect(shim.storage().token).toBe('T')
    const resolve = jest.fn()
    shim.privacyHandlers()[0](resolve, {})
    expect(resolve).toHaveBeenCalledWith({ event: 'disagree' })
    const listener = jest.fn()
    app.globalData.privacyListeners.push(listener)
    shim.privacyHandlers()[0](resolve, {})
    expect(listener).toHaveBeenCalled()
  })

  test('config picks the base URL per environment', () => {
    const config = require('../../config')
    expect(config.baseUrl()).toBe('http://127.0.0.1:5000')
    shim.setEnv('release')
    expect(config.baseUrl()).not.toBe('http://127.0.0.1:5000')
    expect(config.isDevelop()).toBe(false)
  })
})
