// 捐赠证书: a donation's certificate PNG, downloaded with the session's token
// (api.download), shown with wx.previewImage and saved to the album.
const api = require('./api')

const ALBUM_DENIED = '没有保存到相册的权限。请在设置中允许“保存到相册”后重试。'
const MESSAGES = { 404: '捐赠记录不存在', 409: '这笔捐赠暂无证书' }

function wxCall(name, options) {
  return new Promise((resolve, reject) => {
    wx[name](Object.assign({}, options, { success: resolve, fail: reject }))
  })
}

function isAuthDenied(err) {
  return /auth|authorize|permission|denied|deny/i.test((err && err.errMsg) || '')
}

function isCancel(err) {
  return /cancel/i.test((err && err.errMsg) || '')
}

// Resolves the certificate's temp file path; rejects with an ApiError (Chinese message).
function download(donationId) {
  return api.download('/donations/' + donationId + '/certificate', null, { messages: MESSAGES })
}

function preview(filePath) {
  wx.previewImage({ urls: [filePath], current: filePath })
}

// Saves to the album: resolves 'saved', 'cancelled' or 'denied' (album permission
// refused); rejects with an Error carrying a Chinese message for any other failure.
function save(filePath) {
  return wxCall('saveImageToPhotosAlbum', { filePath }).then(() => 'saved', (err) => {
    if (isAuthDenied(err)) return 'denied'
    if (isCancel(err)) return 'cancelled'
    throw new Error('保存失败，请稍后重试')
  })
}

// After a refusal: explains, and opens the settings if the user agrees. Resolves true
// when the album permission is now allowed.
function askSetting() {
  return wxCall('showModal', {
    title: '需要相册权限',
    content: '保存捐赠证书需要“保存到相册”权限，是否去设置中开启？',
    confirmText: '去设置',
    cancelText: '暂不'
  }).then((res) => (res && res.confirm ? openSetting() : false), () => false)
}

function openSetting() {
  return wxCall('openSetting', {}).then(
    (res) => !!(res && res.authSetting && res.authSetting['scope.writePhotosAlbum']),
    () => false)
}

module.exports = { ALBUM_DENIED, download, preview, save, askSetting, openSetting }
