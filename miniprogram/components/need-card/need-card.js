const { categoryLabel, NEED_STATUS } = require('../../utils/labels')

// One need in a list; tapping opens its page.
Component({
  properties: {
    need: { type: Object, value: {} },
    spaceCode: { type: String, value: '' }
  },
  data: { categoryText: '', statusText: '' },
  observers: {
    need(need) {
      need = need || {}
      this.setData({
        categoryText: need.category_label || categoryLabel(need.category),
        statusText: NEED_STATUS[need.status] || ''
      })
    }
  },
  methods: {
    onTap() {
      const id = this.data.need && this.data.need.id
      if (!id) return
      let url = '/pages/need/need?id=' + id
      if (this.data.spaceCode) url += '&space_code=' + encodeURIComponent(this.data.spaceCode)
      wx.navigateTo({ url })
    }
  }
})
