# Lists, records and ranges.
[1, 2] + [3]
# expect: [1, 2, 3]
{a: 1, b: "x"}.b
# expect: x
[10, 20, 30][-1]
# expect: 30
len([1, 2, 3])
len("héllo")
len({a: 1})
# expect: 3
# expect: 5
# expect: 1
sort([3, 1, 2], reverse: true)
# expect: [3, 2, 1]
t = 0
for i in 1..5 { t = t + i }
t
# expect: 10
[1][5]
# expect error: line 20, column 5: index 5 is out of range for 1 items
for i in 3 { }
# expect error: line 22, column 10: cannot loop over a number (a list or a range is needed)
len(3)
# expect error: line 24, column 5: len needs a list, range, string or record, not a number
