# Functions, recursion, conditionals; state survives an error.
fn fact(n) {
  if n <= 1 { return 1 }
  return n * fact(n - 1)
}
fact(10)
# expect: 3628800
x = 3
if x > 5 { y = 1 } else if x > 2 { y = 2 } else { y = 3 }
y
# expect: 2
fn pair(a, b) { return [a, b] }
pair(1, b: 2)
# expect: [1, 2]
pair(1, a: 2)
# expect error: line 15, column 9: argument `a` of `pair` is given twice
x
# expect: 3
fn f() { return f() }
f()
# expect error: line 19, column 18: too many nested calls (recursion deeper than 200)
if 1 { }
# expect error: line 22, column 4: a condition must be true or false, not a number
print("still here")
# expect: still here
z = 7
return z
# expect error: line 27, column 1: `return` outside a function
z
# expect error: line 29, column 1: unknown name `z`, did you mean `f`?
