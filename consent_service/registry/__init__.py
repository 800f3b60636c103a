"""Registry: purposes (versioned), cookies, sites and the data taxonomy they use."""
