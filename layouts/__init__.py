"""Dash layouts: functions that build components, nothing else.

`shell.shell` is the portal's frame; each page's layout is a module here, named in the page table
(`ioc.web.pages.PAGES`), which routes URL paths to them.
"""
