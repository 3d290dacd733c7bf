// Loaded by jest (setupFilesAfterEnv): a fresh wx shim and API client before every test.
const shim = require('./wx')

shim.reset()
beforeEach(() => {
  shim.reset()
  require('../../utils/api').configure({ baseUrl: 'http://api.test' })
})
