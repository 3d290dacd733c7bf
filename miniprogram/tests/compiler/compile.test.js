// Every WXML and WXSS file through WeChat's own compilers (wcc, wcsc, as DevTools runs
// them): a syntax error the simulator would forgive fails here.
const fs = require('fs')
const os = require('os')
const path = require('path')
const { wxmlToJs, wxssToJs } = require('miniprogram-compiler')

const ROOT = path.join(__dirname, '..', '..')
const PACKAGE = ['app.json', 'app.wxss', 'pages', 'components']

function copyPackage(files) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'linshan-mp-'))
  for (const name of PACKAGE) {
    fs.cpSync(path.join(ROOT, name), path.join(dir, name), { recursive: true })
  }
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text)
  return dir
}

function compile(dir) {
  const wxml = wxmlToJs(dir)
  const wxss = wxssToJs(dir)
  return { wxml, wxss }
}

describe('the package compiles with the official compilers', () => {
  test('every page and component', () => {
    const dir = copyPackage({})
    try {
      const { wxml, wxss } = compile(dir)
      const pages = JSON.parse(fs.readFileSync(path.join(ROOT, 'app.json'), 'utf8')).pages
      for (const page of pages) expect(wxml).toContain(`${page}.wxml`)
      expect(wxss.length).toBeGreaterThan(0)
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  test('a broken template is caught', () => {
    const dir = copyPackage({ 'pages/broken.wxml': '<view class="x">{{a</view><view' })
    try {
      expect(() => wxmlToJs(dir)).toThrow(/broken\.wxml/)
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  test('a broken stylesheet is caught', () => {
    const dir = copyPackage({ 'pages/broken.wxss': '.a { color: red ' })
    try {
      expect(() => wxssToJs(dir)).toThrow()
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe('app.json', () => {
  const app = JSON.parse(fs.readFileSync(path.join(ROOT, 'app.json'), 'utf8'))

  test('every page it names exists with its four files', () => {
    for (const page of app.pages) {
      for (const ext of ['js', 'json', 'wxml', 'wxss']) {
        expect(fs.existsSync(path.join(ROOT, `${page}.${ext}`))).toBe(true)
      }
    }
  })

  test('every tab has both icons: PNG files within WeChat\'s 40 KB', () => {
    for (const tab of app.tabBar.list) {
      expect(app.pages).toContain(tab.pagePath)
      for (const icon of [tab.iconPath, tab.selectedIconPath]) {
        expect(icon).toMatch(/\.png$/)
        const data = fs.readFileSync(path.join(ROOT, icon))
        expect(data.subarray(1, 4).toString()).toBe('PNG')
        expect(data.length).toBeLessThan(40 * 1024)
      }
    }
  })
})
