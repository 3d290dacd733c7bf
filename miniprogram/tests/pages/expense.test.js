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
    status: 'submitted',
    submitter_id: 9,
    threshold_fen: 500000,
    needs_committee: true,
    required_approvals: 2,
    approval_count: 1,
    approvals: [{ id: 1, user_id: 5, role: 'committee', decision: 'approve', comment: '同意购买', created_at: '2026-03-02T09:30:00+08:00' }],
    attachments: [
      { id: 1, stage: 'evidence', upload: { id: 101, url: 'https://files.test/101.jpg?sig=a', thumbnail_url: 'https://files.test/101-t.jpg?sig=a', content_type: 'image/jpeg' } },
      { id: 2, stage: 'evidence', upload: { id: 102, url: 'https://files.test/102.jpg?sig=b', thumbnail_url: null, content_type: 'image/png' } },
      { id: 3, stage: 'evidence', upload: { id: 103, url: 'https://files.test/103.pdf?sig=c', content_type: 'application/pdf', original_name: '发票.pdf' } }
    ],
    actions: ['approve', 'reject'],
    available_fen: 1000000,
    created_at: '2026-03-01T10:00:00+08:00'
  }, extra)
}

async function open(answer, routes = {}) {
  shim.routes(Object.assign({ 'GET /expenses/31': answer }, routes))
  const p = mount('pages/expense/expense')
  await p.instance.onLoad({ id: '31' })
  return p
}

describe('pages/expense', () => {
  test('renders the expense, its evidence, approvals, policy and available balance', async () => {
    const p = await open(ok(expense()))
    expect(p.data.state).toBe('ready')
    expect(text(p, '#amount')).toBe('¥8,800.00')
    expect(text(p, '#status')).toBe('待审批')
    expect(text(p, '#purpose')).toBe('购买助浴椅 20 把')
    expect(text(p, '#payee')).toBe('康乐医疗器械店（机构）')
    expect(text(p, '#account')).toContain('项目：独居老人助浴')
    expect(text(p, '#policy')).toContain('管委会审批门槛（¥5,000.00）')
    expect(text(p, '#approval-count')).toBe('1 / 2')
    expect(text(p, '#available')).toBe('¥10,000.00')
    expect(p.querySelector('.short')).toBeUndefined()
    expect(p.querySelectorAll('.thumb')).toHaveLength(2)
    expect(p.querySelectorAll('.pdf')).toHaveLength(1)
    expect(text(p, '.approval')).toContain('同意')
    expect(text(p, '.approval')).toContain('同意购买')
    expect(p.querySelector('#approve')).toBeDefined()
    expect(p.querySelector('#reject')).toBeDefined()
  })

  test('tapping a thumbnail previews all images at the signed URLs', async () => {
    const p = await open(ok(expense()))
    await fire(p, '.thumb')
    expect(wx.previewImage).toHaveBeenCalledWith({
      urls: ['https://files.test/101.jpg?sig=a', 'https://files.test/102.jpg?sig=b'],
      current: 'https://files.test/101.jpg?sig=a'
    })
  })

  test('approve posts the comment and shows the new state', async () => {
    let body = null
    const p = await open(ok(expense()), {
      'POST /expenses/31/approve': (data) => {
        body = data
        return ok(expense({ status: 'approved', approval_count: 2, actions: [] }))
      }
    })
    p.instance.onComment({ detail: { value: ' 核对无误 ' } })
    await fire(p, '#approve')
    expect(body).toEqual({ comment: '核对无误' })
    expect(text(p, '#status')).toBe('已批准')
    expect(text(p, '#approval-count')).toBe('2 / 2')
    expect(p.querySelector('#approve')).toBeUndefined()
    expect(wx.showToast).toHaveBeenCalledWith(expect.objectContaining({ title: '已同意' }))
  })

  test('reject without a comment is refused locally; with one it is sent', async () => {
    let body = null
    const p = await open(ok(expense()), {
      'POST /expenses/31/reject': (data) => {
        body = data
        return ok(expense({ status: 'rejected', rejection_reason: data.comment, actions: [] }))
      }
    })
    await fire(p, '#reject')
    expect(text(p, '#comment-error')).toBe('驳回时请填写理由')
    expect(shim.requests.filter((r) => r.method === 'POST')).toHaveLength(0)
    p.instance.onComment({ detail: { value: '   ' } })
    await fire(p, '#reject')
    expect(shim.requests.filter((r) => r.method === 'POST')).toHaveLength(0)
    p.instance.onComment({ detail: { value: '发票抬头不对' } })
    await fire(p, '#reject')
    expect(body).toEqual({ comment: '发票抬头不对' })
    expect(text(p, '#status')).toBe('已驳回')
    expect(text(p, '.rejection')).toContain('发票抬头不对')
  })

  test('the API refusal message is shown (own expense)', async () => {
    const p = await open(ok(expense()), {
      'POST /expenses/31/approve': shim.apiError(403, 'own_expense', '不能审批自己提交的支出')
    })
    await fire(p, '#approve')
    expect(text(p, '#action-error')).toBe('不能审批自己提交的支出')
    expect(text(p, '#status')).toBe('待审批')
  })

  test('no decision buttons unless actions allow them; only reject when only reject is allowed', async () => {
    const p = await open(ok(expense({ actions: [] })))
    expect(p.querySelector('.decide')).toBeUndefined()
    expect(p.querySelector('#approve')).toBeUndefined()
    await p.instance.onApprove()
    expect(shim.requests.filter((r) => r.method === 'POST')).toHaveLength(0)

    const q = await open(ok(expense({ actions: ['reject'] })))
    expect(q.querySelector('#approve')).toBeUndefined()
    expect(q.querySelector('#reject')).toBeDefined()
  })

  test('missing fields and empty lists render; a short balance is flagged', async () => {
    const p = await open(ok({ id: 31, amount_fen: 500, available_fen: 100 }))
    expect(p.data.state).toBe('ready')
    expect(text(p, '#amount')).toBe('¥5.00')
    expect(text(p, '.no-attachments')).toBe('没有上传凭证')
    expect(text(p, '.no-approvals')).toBe('还没有人审批')
    expect(text(p, '#account')).toContain('基金池')
    expect(text(p, '#available')).toBe('¥1.00')
    expect(p.querySelector('.short')).toBeDefined()
    expect(p.querySelector('.decide')).toBeUndefined()
  })

  test('errors: not found shows the API message; a lost network retries', async () => {
    const p = await open(shim.apiError(404, 'expense_not_found', '支出不存在'))
    expect(p.data.state).toBe('error')
    expect(text(p.querySelector('#sv'), '.sv-message')).toBe('支出不存在')

    let fail = true
    const q = await open(() => (fail ? { fail: true } : ok(expense())))
    expect(text(q.querySelector('#sv'), '#error')).toContain('网络连接失败')
    fail = false
    await fire(q.querySelector('#sv'), '#retry')
    expect(q.data.state).toBe('ready')
    expect(text(q, '#amount')).toBe('¥8,800.00')
  })

  test('a page opened without an id shows an error and calls nothing', async () => {
    const p = mount('pages/expense/expense')
    await p.instance.onLoad({})
    expect(p.data.state).toBe('error')
    expect(shim.requests).toHaveLength(0)
  })
})
