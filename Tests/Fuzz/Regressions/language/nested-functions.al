fn outer(n) {
  fn inner(x) {
    return x + n
  }
  return inner(1)
}
for i in 0..100 { outer(i) }
fn maker() {
  fn kept() {
    return 1
  }
  return [kept]
}
k = maker()
print(k[0]())
