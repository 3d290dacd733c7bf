// Shows loading / empty / error states; the page's content goes in the slot when ready.
Component({
  properties: {
    state: { type: String, value: 'loading' }, // loading | empty | error | ready
    message: { type: String, value: '' },
    retryText: { type: String, value: '重试' }
  },
  methods: {
    onRetry() {
      this.triggerEvent('retry')
    }
  }
})
