const { yuan } = require('../../utils/money')

// Fundraising progress: a bar and "已筹 ¥x / 目标 ¥y".
Component({
  properties: {
    raisedFen: { type: Number, value: 0 },
    goalFen: { type: Number, value: 0 },
    percent: { type: Number, value: 0 },
    donationCount: { type: Number, value: -1 }
  },
  data: { width: 0, raisedText: '¥0.00', goalText: '¥0.00' },
  observers: {
    'raisedFen, goalFen, percent': function (raisedFen, goalFen, percent) {
      let p = Number(percent) || 0
      if (!p && goalFen > 0) p = Math.floor((raisedFen * 100) / goalFen)
      this.setData({
        width: Math.max(0, Math.min(100, p)),
        shownPercent: Math.max(0, p),
        raisedText: yuan(raisedFen || 0),
        goalText: yuan(goalFen || 0)
      })
    }
  }
})
