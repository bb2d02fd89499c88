# Numbers, percentages, strings and their operators. Each `# expect:` holds what the lines above it print
# (expression statements print their value); `# expect error:` the error they stop with, as
# "line L, column C: message".
1 + 2 * 3
# expect: 7
(1 + 2) * 3 / 2
# expect: 4.5
2% * 300
# expect: 6
1% + 2%
# expect: 3%
"a" + 1
# expect: a1
not (1 < 2) or 3 >= 3 and true
# expect: true
round(2.675, digits: 2)
percent(0.4567)
# expect: 2.68
# expect: 45.7%
1 / 0
# expect error: line 20, column 3: division by zero
x = True
# expect error: line 22, column 5: unknown name `True`; alvlm writes `true`
