fn f(n) {
  if n < 2 {
    return n
  }
  return f(n - 1) + f(n - 2)
}
xs = []
for i in 0..10 { xs = xs + [f(i)] }
r = {name: "a", v: [1, 2.5, -3e2]}
for x in xs { if x % 2 == 0 { print(str(x) + "!") } }
print([sum(xs), mean(xs), sort(xs)[0], r.name, percent(0.25), round(2.567, 1), abs(-2), min(xs), max(xs), len(r)])
