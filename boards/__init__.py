"""spikefab.boards"""
