// pages/expense: cancel, disburse and redact (the actions beyond approve/reject).
const shim = require('../shim/wx')
const { mount, text, fire } = require('../shim/load')

const ok = (data) => ({ statusCode: 200, data })

function expense(extra) {
  return Object.assign({
    id: 31,
    fund: { id: 3, name: '幸福社区基金' },
    need: { id: 21, title: '独居老人助浴' },
    amount_fen: 880000,
    payee_name: '康乐医疗器械店',
    payee_type: 'organization',
    purpose: '购买助浴椅 20 把',
    status: 'approved',
    required_approvals: 2,
    approval_count: 2,
    approvals: [],
    attachments: [
      { id: 1, stage: 'evidence', upload: { id: 101, url: 'https://files.test/101.jpg?sig=a', content_type: 'image/jpeg' }, redacted: null },
      { id: 2, stage: 'evidence', upload: { id: 102, url: 'https://files.test/102.jpg?sig=b', content_type: 'image/jpeg' },
        redacted: { id: 202, url: 'https://files.test/202.jpg?sig=r', content_type: 'image/jpeg' } }
    ],
    actions: ['disburse', 'cancel', 'redact'],
    available_fen: 1000000
  }, extra)
}

const posts = () => shim.requests.filter((r) => r.method === 'POST')
const gets = () => shim.requests.filter((r) => r.method === 'GET' && r.path === '/api/v1/expenses/31')

// GET answers `current()`; tests change what it returns after an action.
async function open(current, routes = {}) {
  shim.routes(Object.assign({ 'GET /expenses/31': () => ok(current()) }, routes))
  const p = mount('pages/expense/expense')
  await p.instance.onLoad({ id: '31' })
  return p
}

describe('pages/expense actions', () => {
  test('only the actions listed are offered', async () => {
    const p = await open(() => expense({ status: 'submitted', actions: ['approve', 'reject'] }))
    expect(p.querySelector('#cancel')).toBeUndefined()
    expect(p.querySelector('#disburse-card')).toBeUndefined()
    expect(p.querySelector('.redact')).toBeUndefined()
    await p.instance.onDisburse()
    p.instance.onCancelOpen()
    await p.instance.onCancelConfirm()
    expect(posts()).toHaveLength(0)

    const q = await open(() => expense())
    expect(q.querySelector('#cancel')).toBeDefined()
    expect(q.querySelector('#disburse-card')).toBeDefined()
    expect(q.querySelectorAll('.redact')).toHaveLength(2)
    expect(text(q, '#redact-2')).toBe('更换遮挡副本')
    expect(text(q, '#redact-1')).toBe('上传遮挡副本')
    expect(text(q, '.redacted-tag')).toContain('已有遮挡副本')
  })

  test('cancel asks for a reason of at least 4 characters, posts it and reloads', async () => {
    let current = expense({ status: 'submitted', actions: ['cancel', 'redact'] })
    let body = null
    const p = await open(() => current, {
      'POST /expenses/31/cancel': (data) => {
        body = data
        current = expense({ status: 'cancelled', actions: [] })
        return ok({ id: 31, status: 'cancelled' })
      }
    })
    expect(p.querySelector('#cancel-panel')).toBeUndefined()
    await fire(p, '#cancel')
    expect(p.querySelector('#cancel-panel')).toBeDefined()

    await fire(p, '#cancel-confirm')
    expect(text(p, '#cancel-error')).toBe('请填写撤销理由（至少 4 个字）')
    await fire(p, '#cancel-reason', 'input', { detail: { value: ' 重复 ' } })
    await fire(p, '#cancel-confirm')
    expect(text(p, '#cancel-error')).toBe('请填写撤销理由（至少 4 个字）')
    expect(posts()).toHaveLength(0)

    await fire(p, '#cancel-reason', 'input', { detail: { value: '  重复提交了  ' } })
    const before = gets().length
    await fire(p, '#cancel-confirm')
    expect(body).toEqual({ reason: '重复提交了' })
    expect(gets().length).toBe(before + 1)
    expect(text(p, '#status')).toBe('已撤销')
    expect(p.querySelector('#cancel-panel')).toBeUndefined()
    expect(p.querySelector('#cancel')).toBeUndefined()
    expect(wx.showToast).toHaveBeenCalledWith(expect.objectContaining({ title: '已撤销' }))
  })

  test('cancel refused by the API shows its message in the panel; the back button closes it', async () => {
    const p = await open(() => expense({ status: 'submitted', actions: ['cancel'] }), {
      'POST /expenses/31/cancel': shim.apiError(409, 'expense_not_cancellable', '已有审批意见或已结束的支出申请不能撤销')
    })
    await fire(p, '#cancel')
    await fire(p, '#cancel-reason', 'input', { detail: { value: '不再需要了' } })
    await fire(p, '#cancel-confirm')
    expect(text(p, '#cancel-error')).toBe('已有审批意见或已结束的支出申请不能撤销')
    expect(p.querySelector('#cancel-panel')).toBeDefined()
    expect(text(p, '#status')).toBe('待审批')
    await fire(p, '#cancel-back')
    expect(p.querySelector('#cancel-panel')).toBeUndefined()
  })

  test('disburse needs a voucher number and a proof photo, posts both and reloads', async () => {
    let current = expense()
    let body = null
    shim.mockUpload(() => ({ statusCode: 201, data: JSON.stringify({ id: 77, url: 'https://files.test/77.jpg' }) }))
    const p = await open(() => current, {
      'POST /expenses/31/disburse': (data) => {
        body = data
        current = expense({ status: 'disbursed', voucher_no: data.voucher_no, actions: [] })
        return ok(current)
      }
    })
    await fire(p, '#disburse')
    expect(text(p, '#voucher-error')).toBe('请填写付款凭证号（2 到 64 个字符）')
    expect(text(p.querySelector('#proof'), '.photos-error')).toBe('请至少上传一张付款凭证照片')
    expect(posts()).toHaveLength(0)

    await fire(p, '#voucher', 'input', { detail: { value: ' HD20260305-01 ' } })
    expect(p.querySelector('#voucher-error')).toBeUndefined()
    await fire(p, '#disburse')
    expect(posts()).toHaveLength(0)

    await fire(p.querySelector('#proof'), '.add')
    expect(wx.chooseMedia).toHaveBeenCalled()
    expect(shim.uploads).toHaveLength(1)
    expect(p.data.proofIds).toEqual([77])
    const before = gets().length
    await fire(p, '#disburse')
    expect(body).toEqual({ voucher_no: 'HD20260305-01', attachment_ids: [77] })
    expect(gets().length).toBe(before + 1)
    expect(text(p, '#status')).toBe('已拨付')
    expect(p.dom.textContent).toContain('HD20260305-01')
    expect(p.querySelector('#disburse-card')).toBeUndefined()
  })

  test('disburse refused by the API shows its message and field errors', async () => {
    const p = await open(() => expense(), {
      'POST /expenses/31/disburse': shim.apiError(409, 'insufficient_balance', '可用余额不足，不能拨付')
    })
    await fire(p, '#voucher', 'input', { detail: { value: 'HD1' } })
    await fire(p.querySelector('#proof'), '.add')
    await fire(p, '#disburse')
    expect(text(p, '#action-error')).toBe('可用余额不足，不能拨付')
    expect(text(p, '#status')).toBe('已批准')

    shim.routes({
      'GET /expenses/31': ok(expense()),
      'POST /expenses/31/disburse': shim.apiError(422, 'validation_error', '提交的内容有误', { voucher_no: ['凭证号已使用'] })
    })
    await fire(p, '#disburse')
    expect(text(p, '#action-error')).toBe('提交的内容有误')
    expect(text(p, '#voucher-error')).toBe('凭证号已使用')
  })

  test('redact: pick a covered copy, upload it, post the redaction and reload', async () => {
    let current = expense()
    let body = null
    shim.mockUpload(() => ({ statusCode: 201, data: JSON.stringify({ id: 88, url: 'https://files.test/88.jpg' }) }))
    const p = await open(() => current, {
      'POST /expenses/31/redactions': (data) => {
        body = data
        const next = expense()
        next.attachments[0].redacted = { id: 88, url: 'https://files.test/88.jpg' }
        current = next
        return ok(next)
      }
    })
    const before = gets().length
    await fire(p, '#redact-1')
    expect(wx.chooseMedia).toHaveBeenCalledWith(expect.objectContaining({ count: 1, mediaType: ['image'] }))
    expect(shim.uploads).toHaveLength(1)
    expect(shim.uploads[0].filePath).toBe('/tmp/a.jpg')
    expect(body).toEqual({ attachment_id: 1, upload_id: 88 })
    expect(gets().length).toBe(before + 1)
    expect(text(p, '#redact-1')).toBe('更换遮挡副本')
    expect(p.querySelectorAll('.redacted-tag')).toHaveLength(2)
    await fire(p, '.redacted-tag')
    expect(wx.previewImage).toHaveBeenCalledWith({ urls: ['https://files.test/88.jpg'], current: 'https://files.test/88.jpg' })
  })

  test('redact: a cancelled pick does nothing; upload and API failures show the message', async () => {
    const p = await open(() => expense(), {
      'POST /expenses/31/redactions': shim.apiError(422, 'invalid_upload_id', '公开副本须是另一份文件')
    })
    shim.mockChooseMedia(() => ({ tempFiles: [] }))
    await fire(p, '#redact-1')
    expect(shim.uploads).toHaveLength(0)
    expect(posts()).toHaveLength(0)

    shim.mockChooseMedia(() => ({ tempFiles: [{ tempFilePath: '/tmp/b.jpg', size: 1, fileType: 'image' }] }))
    shim.mockUpload(() => shim.apiError(413, 'file_too_large', '文件不能超过 10 MB'))
    await fire(p, '#redact-1')
    expect(text(p, '#action-error')).toBe('文件不能超过 10 MB')
    expect(posts()).toHaveLength(0)

    shim.mockUpload(() => ({ statusCode: 201, data: JSON.stringify({ id: 101, url: 'https://files.test/101.jpg' }) }))
    await fire(p, '#redact-1')
    expect(text(p, '#action-error')).toBe('公开副本须是另一份文件')
    expect(text(p, '#redact-1')).toBe('上传遮挡副本')
    expect(p.data.busy).toBe(false)
  })
})
