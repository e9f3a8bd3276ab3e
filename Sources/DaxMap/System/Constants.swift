import Glibc

// Linux constants Glibc's Swift overlay does not always export.
let MAP_SHARED_VALIDATE: CInt = 0x03
let MAP_SYNC: CInt = 0x80000
let MAP_FIXED_NOREPLACE: CInt = 0x100000
let MADV_HWPOISON_: CInt = 100
let BUS_ADRERR_: CInt = 2
let BUS_MCEERR_AR_: CInt = 4
let BUS_MCEERR_AO_: CInt = 5
let SEGV_ACCERR_: CInt = 2
