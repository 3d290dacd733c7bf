const shim = require('../shim/wx')
const { mount, text, fire } = require('../shim/load')

const ok = (data, statusCode = 200) => ({ statusCode, data })

const space = {
  code: 's-a', name: '幸福社区慈善空间', address: '幸福路 1 号',
  region: { id: 41, name: '幸福社区' }, fund: { id: 3, name: '幸福社区基金' },
  needs: [{ id: 11, title: '助老餐桌' }, { id: 12, title: '儿童书屋' }]
}

function serve() {
  shim.routes({ 'GET /spaces/s-a': ok(space) })
}

async function open(query = { code: 's-a' }) {
  serve()
  const p = mount('pages/space-poster/space-poster')
  await p.instance.onLoad(query)
  return p
}

describe('pages/space-poster', () => {
  test('shows the mini-program code from the backend and previews it; per need too', async () => {
    const p = await open()
    expect(p.data.state).toBe('ready')
    expect(text(p, '#space-name')).toBe('幸福社区慈善空间')
    expect(p.data.codeUrl).toBe('http://api.test/api/v1/spaces/s-a/qrcode.png')
    expect(p.data.webQrUrl).toBe('http://api.test/api/v1/spaces/s-a/webqr.png')
    await fire(p, '#code-image')
    expect(wx.previewImage).toHaveBeenCalledWith({
      urls: ['http://api.test/api/v1/spaces/s-a/qrcode.png', 'http://api.test/api/v1/spaces/s-a/webqr.png'],
      current: 'http://api.test/api/v1/spaces/s-a/qrcode.png'
    })
    expect(p.querySelectorAll('.target')).toHaveLength(3)
    await fire(p, p.querySelectorAll('.target')[2])
    expect(p.data.codeUrl).toBe('http://api.test/api/v1/spaces/s-a/qrcode.png?need_id=12')
    await fire(p, '#save-poster')
    expect(shim.downloads[0].url).toBe('http://api.test/api/v1/spaces/s-a/poster?format=png&need_id=12')
  })

  test('a need asked for in the query is picked', async () => {
    const p = await open({ code: 's-a', need_id: '11' })
    expect(p.data.targetIndex).toBe(1)
    expect(p.data.webQrUrl).toBe('http://api.test/api/v1/spaces/s-a/webqr.png?need_id=11')
  })

  test('downloads the PNG poster and saves it to the album', async () => {
    shim.mockDownload(() => ({ statusCode: 200, tempFilePath: '/tmp/poster.png' }))
    const p = await open()
    await fire(p, '#save-poster')
    expect(shim.downloads.map((d) => d.url)).toEqual(['http://api.test/api/v1/spaces/s-a/poster?format=png'])
    expect(wx.saveImageToPhotosAlbum).toHaveBeenCalledWith(expect.objectContaining({ filePath: '/tmp/poster.png' }))
    expect(text(p, '#notice')).toBe('海报已保存到相册')
    expect(wx.showToast).toHaveBeenCalledWith(expect.objectContaining({ title: '已保存' }))
    expect(wx.hideLoading).toHaveBeenCalled()
    expect(p.data.busy).toBe('')
  })

  test('the mini-program code itself can be saved to the album', async () => {
    const p = await open()
    await fire(p, '#save-code')
    expect(shim.downloads[0].url).toBe('http://api.test/api/v1/spaces/s-a/qrcode.png')
    expect(text(p, '#notice')).toBe('小程序码已保存到相册')
  })

  test('a refused album permission explains itself and offers the settings', async () => {
    shim.mockSaveImage(() => ({ errMsg: 'saveImageToPhotosAlbum:fail auth deny' }))
    shim.mockModal(() => ({ confirm: false, cancel: true }))
    const p = await open()
    await fire(p, '#save-poster')
    expect(text(p, '#poster-error')).toContain('没有保存到相册的权限')
    expect(wx.showModal).toHaveBeenCalledWith(expect.objectContaining({ confirmText: '去设置' }))
    expect(wx.openSetting).not.toHaveBeenCalled()
    // the banner's own button opens the settings; once allowed, it says to try again
    shim.mockOpenSetting(() => ({ errMsg: 'openSetting:ok', authSetting: { 'scope.writePhotosAlbum': true } }))
    await fire(p, '#open-setting')
    expect(wx.openSetting).toHaveBeenCalled()
    expect(p.querySelector('#poster-error')).toBeUndefined()
    expect(text(p, '#notice')).toContain('请再点一次保存')
  })

  test('accepting the modal goes straight to the settings', async () => {
    shim.mockSaveImage(() => ({ errMsg: 'saveImageToPhotosAlbum:fail authorize no response' }))
    const p = await open()
    await fire(p, '#save-poster')
    expect(wx.openSetting).toHaveBeenCalled()
    expect(p.data.denied).toBe(true)
  })

  test('cancelling the save says nothing; a failed download shows why', async () => {
    shim.mockSaveImage(() => ({ errMsg: 'saveImageToPhotosAlbum:fail cancel' }))
    const p = await open()
    await fire(p, '#save-poster')
    expect(p.querySelector('#poster-error')).toBeUndefined()
    expect(p.querySelector('#notice')).toBeUndefined()

    shim.mockDownload(() => ({ statusCode: 503 }))
    await fire(p, '#save-poster')
    expect(text(p, '#poster-error')).toBe('海报生成失败，请稍后再试')
    shim.mockDownload(() => ({ fail: true }))
    await fire(p, '#save-poster')
    expect(text(p, '#poster-error')).toContain('网络连接失败')
    expect(wx.saveImageToPhotosAlbum).toHaveBeenCalledTimes(1)
  })

  test('opens the PDF poster in the document viewer', async () => {
    shim.mockDownload(() => ({ statusCode: 200, tempFilePath: '/tmp/poster.pdf' }))
    const p = await open()
    await fire(p, p.querySelectorAll('.target')[1])
    await fire(p, '#open-pdf')
    expect(shim.downloads[0].url).toBe('http://api.test/api/v1/spaces/s-a/poster?format=pdf&need_id=11')
    expect(wx.openDocument).toHaveBeenCalledWith(expect.objectContaining({ filePath: '/tmp/poster.pdf', fileType: 'pdf' }))
    expect(p.querySelector('#poster-error')).toBeUndefined()

    shim.mockOpenDocument(() => ({ errMsg: 'openDocument:fail filetype not supported' }))
    await fire(p, '#open-pdf')
    expect(text(p, '#poster-error')).toBe('无法打开 PDF，请稍后重试')
  })

  test('a missing space or code shows the error', async () => {
    shim.routes({ 'GET /spaces/nope': shim.apiError(404, 'not_found', '慈善空间不存在') })
    const p = mount('pages/space-poster/space-poster')
    await p.instance.onLoad({ code: 'nope' })
    expect(text(p.querySelector('#sv'), '.sv-message')).toBe('慈善空间不存在')
    const q = mount('pages/space-poster/space-poster')
    await q.instance.onLoad({})
    expect(text(q.querySelector('#sv'), '.sv-message')).toContain('缺少慈善空间信息')
  })
})
